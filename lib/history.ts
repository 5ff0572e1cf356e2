import { HistogramWindow, type Histogram } from './histogram.js'
import { round } from './format.js'

/**
 * What the dashboard's charts show, kept in fixed memory: three rings of the same series at three resolutions
 * (every sample for 5 minutes, 10 s for an hour, 1 min for a day), so charts are full the moment the page opens
 * and memory does not depend on uptime or traffic: 17 series x ~2,100 points x 8 bytes, about 290 kB.
 */
export const SERIES = [
  'requestsPerSecond', 'errorsPerSecond', 'p50Ms', 'p95Ms', 'p99Ms',
  'rss', 'heapUsed', 'heapTotal', 'external', 'systemMemoryPercent',
  'cpuProcessPercent', 'cpuSystemPercent', 'eventLoopDelayP99Ms', 'eventLoopUtilization',
  'dbPingMs', 'dbPoolInUse', 'dbCommandP95Ms'
] as const
export type SeriesName = typeof SERIES[number]
export type HistoryValues = Record<SeriesName, number | null>
/** The series that the sampler measures directly; the request series are derived from the request counters. */
export type GaugeName = Exclude<SeriesName, 'requestsPerSecond' | 'errorsPerSecond' | 'p50Ms' | 'p95Ms' | 'p99Ms'>
export type Gauges = Record<GaugeName, number | null>

export const HISTORY_RANGES = {
  '5m': { spanMs: 5 * 60_000, stepMs: 0 }, // 0: every sample
  '1h': { spanMs: 60 * 60_000, stepMs: 10_000 },
  '24h': { spanMs: 24 * 60 * 60_000, stepMs: 60_000 }
} as const
export type HistoryRange = keyof typeof HISTORY_RANGES

export interface HistoryPoint { timestamp: number, values: HistoryValues }
export interface HistoryResponse {
  range: HistoryRange
  stepMs: number
  timestamps: number[]
  series: Record<SeriesName, Array<number | null>>
}

/** The request counters the history derives its rates and latency percentiles from. */
export interface RequestTotals { readonly total: number, readonly errorCount: number, readonly histogram: Histogram }

const QUANTILES = [0.5, 0.95, 0.99]
const GAUGES = SERIES.filter((name): name is GaugeName => !['requestsPerSecond', 'errorsPerSecond', 'p50Ms', 'p95Ms', 'p99Ms'].includes(name))

class Tier {
  readonly timestamps: Float64Array
  readonly columns: Record<SeriesName, Float64Array>
  private head = 0
  private size = 0
  private readonly window: HistogramWindow
  private lastTime: number
  private lastTotal: number
  private lastErrors: number
  // Means of the gauges over the samples of the current step.
  private readonly sums = new Float64Array(GAUGES.length)
  private readonly counts = new Uint32Array(GAUGES.length)

  /**
   * `closeAfterMs` is half a sample short of the step, so that timer jitter does not skip a whole sample; the
   * finest tier has 0 and closes on every sample, however soon after the last one it comes.
   */
  constructor (
    readonly stepMs: number,
    points: number,
    private readonly requests: RequestTotals,
    now: number,
    private readonly closeAfterMs: number
  ) {
    this.timestamps = new Float64Array(points)
    this.columns = Object.fromEntries(SERIES.map((name) => [name, new Float64Array(points)])) as Record<SeriesName, Float64Array>
    this.window = new HistogramWindow(requests.histogram)
    this.lastTime = now
    this.lastTotal = requests.total
    this.lastErrors = requests.errorCount
  }

  /** Adds one sample's gauges; closes the step (and returns its point) when `stepMs` has passed. */
  add (now: number, gauges: Gauges): HistoryPoint | null {
    GAUGES.forEach((name, i) => {
      const value = gauges[name]
      if (value !== null) {
        this.sums[i]! += value
        this.counts[i]!++
      }
    })
    if (now - this.lastTime < this.closeAfterMs) return null
    const seconds = Math.max(now - this.lastTime, 1) / 1000
    const { count, quantiles } = this.window.advance()
    const [p50, p95, p99] = count > 0 ? quantiles(QUANTILES) : [null, null, null]
    const values = {
      requestsPerSecond: round((this.requests.total - this.lastTotal) / seconds, 2),
      errorsPerSecond: round((this.requests.errorCount - this.lastErrors) / seconds, 2),
      p50Ms: p50 ?? null,
      p95Ms: p95 ?? null,
      p99Ms: p99 ?? null
    } as HistoryValues
    GAUGES.forEach((name, i) => {
      values[name] = this.counts[i]! > 0 ? round(this.sums[i]! / this.counts[i]!) : null
    })
    this.sums.fill(0)
    this.counts.fill(0)
    this.lastTime = now
    this.lastTotal = this.requests.total
    this.lastErrors = this.requests.errorCount
    this.push(now, values)
    return { timestamp: now, values }
  }

  /** Points kept from before a restart, oldest first: the ring's newest `length` of them. */
  restore (timestamps: readonly number[], series: Partial<Record<SeriesName, ReadonlyArray<number | null>>>): void {
    const from = Math.max(0, timestamps.length - this.timestamps.length)
    for (let i = from; i < timestamps.length; i++) {
      const values = {} as HistoryValues
      for (const name of SERIES) values[name] = series[name]?.[i] ?? null
      this.push(timestamps[i]!, values)
    }
  }

  private push (timestamp: number, values: HistoryValues): void {
    this.timestamps[this.head] = timestamp
    for (const name of SERIES) this.columns[name][this.head] = values[name] ?? Number.NaN
    this.head = (this.head + 1) % this.timestamps.length
    if (this.size < this.timestamps.length) this.size++
  }

  read (): { timestamps: number[], series: Record<SeriesName, Array<number | null>> } {
    const length = this.timestamps.length
    const start = (this.head - this.size + length) % length
    const order = Array.from({ length: this.size }, (_, i) => (start + i) % length)
    const series = {} as Record<SeriesName, Array<number | null>>
    for (const name of SERIES) {
      const column = this.columns[name]
      series[name] = order.map((i) => Number.isNaN(column[i]!) ? null : column[i]!)
    }
    return { timestamps: order.map((i) => this.timestamps[i]!), series }
  }
}

export class History {
  private readonly tiers: Record<HistoryRange, Tier>

  constructor (requests: RequestTotals, sampleIntervalMs: number, now = Date.now()) {
    this.tiers = {} as Record<HistoryRange, Tier>
    for (const [range, { spanMs, stepMs }] of Object.entries(HISTORY_RANGES) as Array<[HistoryRange, { spanMs: number, stepMs: number }]>) {
      // A sampling interval longer than a tier's step makes that tier one point per sample.
      const step = Math.max(stepMs, sampleIntervalMs)
      const closeAfterMs = stepMs === 0 ? 0 : step - sampleIntervalMs / 2
      this.tiers[range] = new Tier(step, Math.ceil(spanMs / step), requests, now, closeAfterMs)
    }
  }

  /** Records one sample into every tier; returns the finest tier's new point (what the live stream sends). */
  record (now: number, gauges: Gauges): HistoryPoint {
    let point: HistoryPoint | null = null
    for (const range of Object.keys(this.tiers) as HistoryRange[]) {
      const added = this.tiers[range].add(now, gauges)
      if (range === '5m') point = added
    }
    // The finest tier steps on every sample, so it always returns a point.
    return point!
  }

  /** Puts back a tier kept in the shared directory (lib/shared/history-file.ts); call before the first sample. */
  restore (range: HistoryRange, stored: { timestamps: readonly number[], series: Partial<Record<string, ReadonlyArray<number | null>>> }): void {
    this.tiers[range].restore(stored.timestamps, stored.series)
  }

  query (range: HistoryRange): HistoryResponse {
    const tier = this.tiers[range]
    return { range, stepMs: tier.stepMs, ...tier.read() }
  }
}
