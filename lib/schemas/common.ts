import { Type, type TSchema } from '@sinclair/typebox'
import { HEALTH_STATUSES } from '../status.js'

/** A figure the platform may not be able to provide: `null` rather than a made-up number. */
export const Nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()])

export const NullableNumber = Nullable(Type.Number())

export const Count = Type.Integer({ minimum: 0 })

export const Percentiles = Type.Object({
  p50: NullableNumber,
  p95: NullableNumber,
  p99: NullableNumber,
  max: NullableNumber
}, { description: 'Milliseconds; null until something was measured' })

/** The health status (lib/status.ts): its values are HEALTH_STATUSES, not a second list. */
export const HealthStatusSchema = Type.Union(HEALTH_STATUSES.map((status) => Type.Literal(status)))
