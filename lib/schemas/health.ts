import { Type, type Static } from '@sinclair/typebox'
import { Nullable, NullableNumber, Percentiles } from './common.js'
import { AlertSchema } from './alerts.js'
import { CustomMetricsSchema } from './custom.js'
import { DatabaseSchema } from './database.js'

const Count = Type.Integer({ minimum: 0 })
const Bytes = Type.Integer({ minimum: 0, description: 'bytes' })
const NullableBytes = Nullable(Bytes)
const Percent = Type.Number({ minimum: 0, maximum: 100 })
const NullablePercent = Nullable(Percent)

export const HealthStatus = Type.Union([Type.Literal('healthy'), Type.Literal('degraded'), Type.Literal('unhealthy')])

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
  max: NullableNumber
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

export const ApplicationSchema = Type.Object({
  totalRequests: Count,
  errorCount: Count,
  errorRate: Percent,
  averageResponseTimeMs: NullableNumber,
  responseTimeMs: Percentiles,
  requestsPerSecond: Type.Number({ minimum: 0 }),
  inFlight: Count,
  aborted: Count,
  timedOut: Count,
  statusCodes: Type.Record(Type.String({ pattern: '^[1-5][0-9][0-9]$' }), Count),
  endpoints: Type.Record(Type.String(), EndpointSchema),
  recentErrors: Type.Array(RecentErrorSchema),
  recent: RecentRequestsSchema
})

export const HeapSpaceSchema = Type.Object({
  name: Type.String(),
  size: Bytes,
  used: Bytes,
  available: Bytes
})

export const ProcessMemorySchema = Type.Object({
  pid: Type.Integer(),
  memoryPercent: NullablePercent,
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
    startedAt: Type.String()
  }),
  database: DatabaseSchema,
  checks: Type.Record(Type.String(), CheckResultSchema),
  memory: Type.Object({
    process: ProcessMemorySchema,
    system: SystemMemorySchema
  }),
  cpu: Type.Object({
    processPercent: NullablePercent,
    systemPercent: NullablePercent,
    cores: Type.Integer({ minimum: 1 }),
    loadAverage: Nullable(Type.Array(Type.Number(), { minItems: 3, maxItems: 3 }))
  }),
  eventLoop: Type.Object({
    delayMs: Type.Object({ p50: NullableNumber, p99: NullableNumber, max: NullableNumber }),
    utilization: Nullable(Type.Number({ minimum: 0, maximum: 1 }))
  }),
  application: ApplicationSchema,
  /** Alert rules that are firing now (lib/alerts/). */
  alerts: Type.Array(AlertSchema),
  /** The app's own metrics (lib/custom/), by name. */
  custom: CustomMetricsSchema
}, { $id: 'ServerWatchHealthSnapshot' })

export type HealthSnapshot = Static<typeof HealthSnapshotSchema>
export type ApplicationSnapshot = Static<typeof ApplicationSchema>
export type EndpointSnapshot = Static<typeof EndpointSchema>
export type RecentError = Static<typeof RecentErrorSchema>
export type RecentRequests = Static<typeof RecentRequestsSchema>
export type CheckResult = Static<typeof CheckResultSchema>
export type ProcessMemory = Static<typeof ProcessMemorySchema>
export type SystemMemory = Static<typeof SystemMemorySchema>
