import { Type, type Static } from '@sinclair/typebox'
import { Count, HealthStatusSchema, Nullable, NullableNumber, Percentiles } from './common.js'
import { AlertSchema } from './alerts.js'
import { CustomMetricsSchema } from './custom.js'
import { DatabaseSchema } from './database.js'
import { EndpointBreakdownFields, OutboundSchema } from './breakdown.js'
import { FleetSchema, ProcessRowSchema } from './processes.js'
import { ApdexSchema, ErrorGroupsSchema, ReleasesSchema } from './errors.js'

const Bytes = Type.Integer({ minimum: 0, description: 'bytes' })
const NullableBytes = Nullable(Bytes)
const Percent = Type.Number({ minimum: 0, maximum: 100 })
const NullablePercent = Nullable(Percent)

/** The snapshot's `status` (routes/health.ts answers with it alone). */
export const HealthStatus = HealthStatusSchema

export const CheckResultSchema = Type.Object({
  status: Type.Union([Type.Literal('pass'), Type.Literal('fail'), Type.Literal('pending')]),
  required: Type.Boolean(),
  durationMs: NullableNumber,
  lastCheckedAt: Nullable(Type.String()),
  error: Type.Optional(Type.String())
})

export const EndpointSchema = Type.Object({
  count: Count,
  errorCount: Count,
  averageResponseTimeMs: NullableNumber,
  p50: NullableNumber,
  p95: NullableNumber,
  p99: NullableNumber,
  max: NullableNumber,
  /** With `breakdown` (lib/schemas/breakdown.ts). */
  ...EndpointBreakdownFields
})

export const RecentErrorSchema = Type.Object({
  timestamp: Type.String(),
  method: Type.String(),
  route: Type.String({ description: 'route pattern, "(not found)" when no route matched' }),
  path: Type.String({ description: 'URL path without its query string' }),
  statusCode: Type.Integer(),
  message: Type.String(),
  code: Type.Optional(Type.String())
})

/** Request figures over the last minute (lib/collectors/recent.ts): what alert rules on requests read. */
export const RecentRequestsSchema = Type.Object({
  windowSeconds: Count,
  requests: Count,
  errors: Count,
  errorRate: NullablePercent,
  responseTimeMs: Type.Object({ p50: NullableNumber, p95: NullableNumber, p99: NullableNumber })
})

export const SlowRequestSchema = Type.Object({
  timestamp: Type.String(),
  method: Type.String(),
  route: Type.String({ description: 'route pattern, "(not found)" when no route matched' }),
  path: Type.String({ description: 'URL path without its query string' }),
  statusCode: Type.Integer(),
  durationMs: Type.Number({ minimum: 0 })
})

export const ApplicationSchema = Type.Object({
  totalRequests: Count,
  errorCount: Count,
  errorRate: Percent,
  averageResponseTimeMs: NullableNumber,
  responseTimeMs: Percentiles,
  requestsPerSecond: Type.Number({ minimum: 0 }),
  inFlight: Count,
  /** Requests refused by load shedding while an alert rule with `shed` fired; in no other figure. */
  shed: Count,
  aborted: Count,
  timedOut: Count,
  statusCodes: Type.Record(Type.String({ pattern: '^([1-9][0-9][0-9]|other)$', description: '100 to 999, or "other"' }), Count),
  endpoints: Type.Record(Type.String(), EndpointSchema),
  recentErrors: Type.Array(RecentErrorSchema),
  recent: RecentRequestsSchema,
  slowestRequests: Type.Array(SlowRequestSchema, { description: 'the slowest requests of the last 5 minutes, slowest first' }),
  /** Errors grouped into problems (lib/error-groups/), most recently seen first. */
  errorGroups: ErrorGroupsSchema
})

export const HeapSpaceSchema = Type.Object({
  name: Type.String(),
  size: Bytes,
  used: Bytes,
  available: Bytes
})

export const LimitSource = Type.Union([Type.Literal('cgroup-v2'), Type.Literal('cgroup-v1'), Type.Literal('host')], {
  description: 'where the limit comes from: the container\'s cgroup (v2 or v1), or the host\'s RAM or cores'
})

export const ProcessMemorySchema = Type.Object({
  pid: Type.Integer(),
  memoryPercent: Nullable(Type.Number({ minimum: 0, maximum: 100, description: 'rss as a percent of limit.bytes' })),
  limit: Type.Object({ bytes: Bytes, source: LimitSource }, { description: 'the memory this process may use' }),
  rss: Bytes,
  vms: NullableBytes,
  heapTotal: Bytes,
  heapUsed: Bytes,
  /** V8's heap size limit (--max-old-space-size), and heapUsed as a percent of it. */
  heapLimit: Bytes,
  heapUsedPercent: Percent,
  external: Bytes,
  arrayBuffers: Bytes,
  numThreads: Nullable(Count),
  openFiles: Nullable(Count),
  connections: Nullable(Count),
  heapSpaces: Type.Array(HeapSpaceSchema, { maxItems: 5 })
})

export const HeapTrendSchema = Type.Object({
  baselineBytes: Nullable(Type.Integer({ minimum: 0, description: 'heap used after the last major GC (the lowest in its minute)' })),
  slopeBytesPerHour: Nullable(Type.Integer({ description: 'linear trend of the post-GC baselines over the last hour' })),
  rising: Type.Boolean({ description: 'the baseline keeps climbing: a leak sign' }),
  points: Count
})

export const SystemMemorySchema = Type.Object({
  total: NullableBytes,
  available: NullableBytes,
  used: NullableBytes,
  free: NullableBytes,
  percent: NullablePercent,
  active: NullableBytes,
  inactive: NullableBytes,
  buffers: NullableBytes,
  cached: NullableBytes,
  shared: NullableBytes,
  swap: Type.Object({
    total: NullableBytes,
    used: NullableBytes,
    free: NullableBytes,
    percent: NullablePercent,
    sin: Nullable(Type.Integer({ minimum: 0, description: 'bytes swapped in since boot' })),
    sout: Nullable(Type.Integer({ minimum: 0, description: 'bytes swapped out since boot' }))
  })
})

export const CpuSchema = Type.Object({
  processPercent: NullablePercent,
  systemPercent: NullablePercent,
  cores: Type.Integer({ minimum: 1, description: 'the host\'s cores available to this process' }),
  limitCores: Type.Number({ exclusiveMinimum: 0, description: 'what processPercent is a percent of: a cgroup CPU quota in cores, or cores' }),
  limitSource: LimitSource,
  loadAverage: Nullable(Type.Array(Type.Number(), { minItems: 3, maxItems: 3 }))
})

export const EventLoopSchema = Type.Object({
  delayMs: Type.Object({ p50: NullableNumber, p99: NullableNumber, max: NullableNumber }),
  utilization: Nullable(Type.Number({ minimum: 0, maximum: 1 }))
})

export const HealthSnapshotSchema = Type.Object({
  status: HealthStatus,
  timestamp: Type.String({ format: 'date-time' }),
  uptime: Type.Object({
    seconds: Type.Integer({ minimum: 0 }),
    formatted: Type.String()
  }),
  instance: Type.Object({
    hostname: Type.String(),
    pid: Type.Integer(),
    nodeVersion: Type.String(),
    fastifyVersion: Type.String(),
    platform: Type.String(),
    startedAt: Type.String(),
    /** The release running (the `release` option, a platform's variable, the app's version), or null. */
    release: Nullable(Type.String())
  }),
  database: DatabaseSchema,
  checks: Type.Record(Type.String(), CheckResultSchema),
  memory: Type.Object({
    process: Type.Composite([ProcessMemorySchema, Type.Object({ heapTrend: HeapTrendSchema })]),
    system: SystemMemorySchema
  }),
  cpu: CpuSchema,
  eventLoop: EventLoopSchema,
  application: ApplicationSchema,
  /** Alert rules that are firing now (lib/alerts/). */
  alerts: Type.Array(AlertSchema),
  /** The app's own metrics (lib/custom/), by name. */
  custom: CustomMetricsSchema,
  /** With `shared`: every live process of the app; `application` is then the fleet's. */
  processes: Type.Optional(Type.Array(ProcessRowSchema)),
  fleet: Type.Optional(FleetSchema),
  /** This release and the one before, each route compared (lib/releases/). */
  releases: ReleasesSchema,
  /** Apdex overall and per route (`apdexThresholdMs`). */
  apdex: ApdexSchema,
  /** With `breakdown.outbound`: outbound HTTP calls by host. */
  outbound: Type.Optional(OutboundSchema)
}, { $id: 'ServerWatchHealthSnapshot' })

export type HealthSnapshot = Static<typeof HealthSnapshotSchema>
export type ApplicationSnapshot = Static<typeof ApplicationSchema>
export type EndpointSnapshot = Static<typeof EndpointSchema>
export type RecentError = Static<typeof RecentErrorSchema>
export type RecentRequests = Static<typeof RecentRequestsSchema>
export type SlowRequest = Static<typeof SlowRequestSchema>
export type CheckResult = Static<typeof CheckResultSchema>
export type ProcessMemory = Static<typeof ProcessMemorySchema>
export type SystemMemory = Static<typeof SystemMemorySchema>
export type HeapTrend = Static<typeof HeapTrendSchema>
export type CpuSnapshot = Static<typeof CpuSchema>
export type EventLoopSnapshot = Static<typeof EventLoopSchema>
