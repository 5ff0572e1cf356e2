import { Type } from '@sinclair/typebox'
import { HISTORY_RANGES, type HistoryRange } from '../history.js'

/** `?range=` of the dashboard's history API: one literal per resolution the history keeps, `5m` by default. */
export const HistoryRangeSchema = Type.Union(
  (Object.keys(HISTORY_RANGES) as HistoryRange[]).map((range) => Type.Literal(range)),
  { default: '5m' }
)

/**
 * The 400 message for a bad range, read from the schema above, so that the values have one source. Ajv's own text for a union of constants is
 * "must be equal to constant" once per value, which names none of them.
 */
export const HISTORY_RANGE_ERROR =
  `querystring/range must be one of ${HistoryRangeSchema.anyOf.map((literal) => JSON.stringify(literal.const)).join(', ')}`
