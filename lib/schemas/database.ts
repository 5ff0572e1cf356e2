import { Type, type Static } from '@sinclair/typebox'
import { Count, Nullable, NullableNumber, Percentiles } from './common.js'
import { DatabaseBreakdownFields } from './breakdown.js'

const NullableCount = Nullable(Count)
const Timestamp = Nullable(Type.String({ description: 'ISO 8601, null until it happened' }))

export const PoolSchema = Type.Object({
  open: Count,
  inUse: Count,
  available: Count,
  waiting: Count,
  created: Count,
  closed: Count,
  checkouts: Count,
  checkoutFailures: Count,
  cleared: Count,
  checkoutWaitMs: Percentiles
}, { description: 'From the driver\'s connection pool (CMAP) events since the plugin started watching' })

export const CommandStatsSchema = Type.Object({
  count: Count,
  failures: Count,
  averageMs: NullableNumber,
  totalMs: Type.Number({ minimum: 0, description: 'time spent in these commands since the start: only grows' }),
  p50: NullableNumber,
  p95: NullableNumber,
  p99: NullableNumber,
  max: NullableNumber
})

export const CommandsSchema = Type.Object({
  monitored: Type.Boolean({ description: 'false when the client was created without monitorCommands: true' }),
  total: NullableCount,
  failures: NullableCount,
  averageMs: NullableNumber,
  latencyMs: Percentiles,
  recentP95Ms: Type.Optional(NullableNumber),
  byName: Type.Record(Type.String(), CommandStatsSchema, { description: 'at most 50 names, then "other"' })
})

export const ServerSchema = Type.Object({
  address: Type.String(),
  type: Type.String({ description: 'the driver\'s server type: Standalone, RSPrimary, RSSecondary, Mongos, Unknown…' }),
  state: Type.Union([Type.Literal('connected'), Type.Literal('connecting'), Type.Literal('unreachable')]),
  heartbeatMs: NullableNumber,
  lastHeartbeatAt: Timestamp,
  error: Type.Optional(Type.String())
})

export const TopologySchema = Type.Object({
  type: Type.String({ description: 'the driver\'s topology type: Single, ReplicaSetWithPrimary, Sharded, Unknown…' }),
  closed: Type.Boolean({ description: 'true once the application closed the client' }),
  servers: Type.Array(ServerSchema, { maxItems: 50 }),
  heartbeatMs: NullableNumber,
  heartbeatFailures: Count,
  lastChangeAt: Timestamp
})

const OpCounters = Type.Object({
  insert: Type.Number(),
  query: Type.Number(),
  update: Type.Number(),
  delete: Type.Number(),
  getmore: Type.Number(),
  command: Type.Number()
})

export const ServerStatusSchema = Type.Object({
  available: Nullable(Type.Boolean({ description: 'null until the first attempt' })),
  error: Type.Optional(Type.String()),
  sampledAt: Timestamp,
  version: Nullable(Type.String()),
  uptimeSeconds: NullableNumber,
  connections: Nullable(Type.Object({ current: Count, available: Count, totalCreated: Count })),
  opcounters: Nullable(OpCounters),
  opcountersPerSecond: Nullable(OpCounters),
  residentMemory: Nullable(Type.Number({ minimum: 0, description: 'bytes' }))
})

/** What the MongoDB collector (lib/collectors/mongo/) reports about a watched client, whether it answers or not. */
const watchedFields = {
  required: Type.Boolean({ description: 'when false, a database that is down makes the status degraded, not unhealthy' }),
  pingMs: NullableNumber,
  lastCheckedAt: Timestamp,
  pool: PoolSchema,
  commands: CommandsSchema,
  topology: TopologySchema,
  serverStatus: ServerStatusSchema,
  /** With `breakdown` (lib/schemas/breakdown.ts). */
  ...DatabaseBreakdownFields
}

/**
 * The `database` part of the snapshot, a union on `status` so that a consumer narrows once instead of writing `?.`
 * on every field: `not_configured` (no `mongo` option) has nothing else; `unhealthy` adds why the ping failed.
 */
export const DatabaseSchema = Type.Union([
  Type.Object({ status: Type.Literal('not_configured') }),
  Type.Object({ status: Type.Literal('healthy'), ...watchedFields }),
  Type.Object({ status: Type.Literal('unhealthy'), error: Type.String({ description: 'why the last ping failed' }), ...watchedFields })
])

export type DatabaseSnapshot = Static<typeof DatabaseSchema>
/** The `database` part when a MongoClient is watched. */
export type WatchedDatabaseSnapshot = Exclude<DatabaseSnapshot, { status: 'not_configured' }>
export type PoolSnapshot = Static<typeof PoolSchema>
export type CommandsSnapshot = Static<typeof CommandsSchema>
export type CommandStats = Static<typeof CommandStatsSchema>
export type TopologySnapshot = Static<typeof TopologySchema>
export type ServerSnapshot = Static<typeof ServerSchema>
export type ServerStatusSnapshot = Static<typeof ServerStatusSchema>
