import { Type, type Static } from '@sinclair/typebox'
import { NullableNumber } from './common.js'

/**
 * The resolutions the history keeps, and the one source of the ranges: the history's rings (lib/history.ts), the
 * `?range=` schema below and the dashboard's range buttons (rendered into the page by lib/routes/dashboard.ts).
 * `stepMs` 0 is every sample.
 */
export const HISTORY_RANGES = {
  '5m': { spanMs: 5 * 60_000, stepMs: 0, label: '5 min' },
  '1h': { spanMs: 60 * 60_000, stepMs: 10_000, label: '1 hour' },
  '24h': { spanMs: 24 * 60 * 60_000, stepMs: 60_000, label: '24 hours' }
} as const
export type HistoryRange = keyof typeof HISTORY_RANGES
export const DEFAULT_HISTORY_RANGE: HistoryRange = '5m'

/** The series derived from the request counters; every other series is a gauge that the sampler measures. */
const REQUEST_SERIES_UNITS = {
  requestsPerSecond: 'requests/s',
  errorsPerSecond: 'requests/s',
  p50Ms: 'ms',
  p95Ms: 'ms',
  p99Ms: 'ms'
} as const
const GAUGE_SERIES_UNITS = {
  rss: 'bytes',
  heapUsed: 'bytes',
  heapTotal: 'bytes',
  external: 'bytes',
  systemMemoryPercent: '%',
  cpuProcessPercent: '%',
  cpuSystemPercent: '%',
  eventLoopDelayP99Ms: 'ms',
  eventLoopUtilization: 'ratio (0 to 1)',
  dbPingMs: 'ms',
  dbPoolInUse: 'connections',
  dbCommandP95Ms: 'ms'
} as const

/** Every series of the history with its unit, in the order the history response lists them. */
export const SERIES_UNITS = { ...REQUEST_SERIES_UNITS, ...GAUGE_SERIES_UNITS }
export type SeriesName = keyof typeof SERIES_UNITS
/** The series that the sampler measures directly. */
export type GaugeName = keyof typeof GAUGE_SERIES_UNITS
export const SERIES = Object.keys(SERIES_UNITS) as SeriesName[]
export const GAUGE_SERIES = Object.keys(GAUGE_SERIES_UNITS) as GaugeName[]

const seriesOf = <T extends Parameters<typeof Type.Object>[0][string]>(value: T) =>
  Type.Object(Object.fromEntries(SERIES.map((name) => [name, value])) as Record<SeriesName, T>)

/** `?range=` of the dashboard's history API: one literal per resolution the history keeps, `5m` by default. */
export const HistoryRangeSchema = Type.Union(
  (Object.keys(HISTORY_RANGES) as HistoryRange[]).map((range) => Type.Literal(range)),
  { default: DEFAULT_HISTORY_RANGE }
)

/**
 * The 400 message for a bad range, read from the schema above, so that the values have one source. Ajv's own text for a union of constants is
 * "must be equal to constant" once per value, which names none of them.
 */
export const HISTORY_RANGE_ERROR =
  `querystring/range must be one of ${HistoryRangeSchema.anyOf.map((literal) => JSON.stringify(literal.const)).join(', ')}`

/** One sample of every series: what the live stream sends after each sample. */
export const HistoryPointSchema = Type.Object({
  timestamp: Type.Number({ description: 'epoch ms' }),
  values: seriesOf(NullableNumber)
})

/** `GET {dashboardPath}/api/history?range=`: one column per series, null where a series had no value. */
export const HistoryResponseSchema = Type.Object({
  range: HistoryRangeSchema,
  stepMs: Type.Number({ minimum: 0 }),
  timestamps: Type.Array(Type.Number({ description: 'epoch ms' })),
  series: seriesOf(Type.Array(NullableNumber))
})

export type HistoryPoint = Static<typeof HistoryPointSchema>
export type HistoryValues = HistoryPoint['values']
export type HistoryResponse = Static<typeof HistoryResponseSchema>
export type Gauges = Record<GaugeName, number | null>
