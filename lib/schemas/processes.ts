import { Type, type Static } from '@sinclair/typebox'
import { HealthStatusSchema, Nullable, NullableNumber } from './common.js'

const NullableBytes = Nullable(Type.Integer({ minimum: 0, description: 'bytes' }))

/** One live process of an app whose processes share a directory (the `shared` option, lib/shared/). */
export const ProcessRowSchema = Type.Object({
  id: Type.String({ description: 'host_pid_start_generation: one incarnation of a process' }),
  pid: Type.Integer(),
  hostname: Type.String(),
  workerId: Nullable(Type.String({ description: 'PM2\'s pm_id or node:cluster\'s worker id' })),
  startedAt: Type.String({ format: 'date-time' }),
  uptimeSeconds: Type.Integer({ minimum: 0 }),
  status: HealthStatusSchema,
  totalRequests: Type.Integer({ minimum: 0, description: 'this process\'s own requests' }),
  errorCount: Type.Integer({ minimum: 0 }),
  requestsPerSecond: Type.Number({ minimum: 0 }),
  p95Ms: NullableNumber,
  inFlight: Type.Integer({ minimum: 0 }),
  rss: NullableBytes,
  heapUsed: NullableBytes,
  cpuProcessPercent: NullableNumber,
  eventLoopUtilization: NullableNumber,
  eventLoopDelayP99Ms: NullableNumber,
  seenAt: Type.String({ format: 'date-time', description: 'when its file was last written' }),
  self: Type.Boolean({ description: 'the process that answered' })
})

/** The fleet's gauges: memory summed over live processes, the event loop's figures the worst process's. */
export const FleetSchema = Type.Object({
  processes: Type.Integer({ minimum: 0, description: 'live processes' }),
  rss: NullableBytes,
  heapUsed: NullableBytes,
  eventLoopDelayP99Ms: NullableNumber,
  eventLoopUtilization: NullableNumber
})

export type ProcessRow = Static<typeof ProcessRowSchema>
