import { HistogramWindow } from './histogram.js'
import type { RequestCounters } from './requests/counts.js'
import { round } from './format.js'
import { GAUGE_SERIES as GAUGES, HISTORY_RANGES, SERIES, type Gauges, type HistoryPoint, type HistoryRange, type HistoryResponse, type HistoryValues, type SeriesName } from './schemas/history.js'

/**
 * What the dashboard's charts show, kept in fixed memory: three rings of the same series at three resolutions
 * (every sample for 5 minutes, 10 s for an hour, 1 min for a day), so charts are full the moment the page opens
 * and memory does not depend on uptime or traffic: 17 series x ~2,100 points x 8 bytes, about 290 kB.
 */
// The shapes live in lib/schemas/history.ts; re-exported for the modules that import them from here.
export type { HistoryPoint, HistoryRange, HistoryResponse, SeriesName } from './schemas/history.js'

/** The snapshot's requestsPerSecond is the rate over about this recent window. */
export const RATE_WINDOW_MS = 10_000

const QUANTILES = [0.5, 0.95, 0.99]

class Tier {
  readonly timestamps: Float64Array
  readonly columns: Record<SeriesName, Float64Array>
  /** The request total at each point: what the snapshot's requestsPerSecond is taken from. */
  private readonly totals: Float64Array
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
    private readonly requests: Pick<RequestCounters, 'total' | 'errorCount' | 'histogram'>,
    now: number,
    private readonly closeAfterMs: number
  ) {
    this.timestamps = new Float64Array(points)
    this.totals = new Float64Array(points)
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
    this.push(now, values, this.lastTotal)
    return { timestamp: now, values }
  }

  /**
   * Requests per second from the point `back` points before the newest (or the oldest kept) to `now`, with the
   * request total as it is now; 0 before the first point.
   */
  rateSince (now: number, back: number): number {
    if (this.size === 0) return 0
    const length = this.timestamps.length
    const index = (this.head - 1 - Math.min(back, this.size - 1) + 2 * length) % length
    const seconds = (now - this.timestamps[index]!) / 1000
    return seconds > 0 ? round((this.requests.total - this.totals[index]!) / seconds, 2) : 0
  }

  /**
   * Points kept from before a restart, oldest first: the ring's newest `length` of them. Their request totals are
   * not kept: they take today's, so that a rate read across them counts no request twice.
   */
  restore (timestamps: readonly number[], series: Partial<Record<string, ReadonlyArray<number | null>>>): void {
    const from = Math.max(0, timestamps.length - this.timestamps.length)
    for (let i = from; i < timestamps.length; i++) {
      const values = {} as HistoryValues
      for (const name of SERIES) values[name] = series[name]?.[i] ?? null
      this.push(timestamps[i]!, values, this.requests.total)
    }
  }

  private push (timestamp: number, values: HistoryValues, total: number): void {
    this.timestamps[this.head] = timestamp
    this.totals[this.head] = total
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

/**
 * The one place request rates are computed: per step for the charts, and over the recent window for the
 * snapshot's requestsPerSecond, both from the request counters at each sample.
 */
export class History {
  private readonly tiers: Record<HistoryRange, Tier>
  /** How many samples back the snapshot's rate reaches: RATE_WINDOW_MS at the sampling interval. */
  private readonly rateBack: number

  constructor (requests: Pick<RequestCounters, 'total' | 'errorCount' | 'histogram'>, sampleIntervalMs: number, now = Date.now()) {
    this.rateBack = Math.max(1, Math.ceil(RATE_WINDOW_MS / sampleIntervalMs))
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

  /** The request rate over about the last RATE_WINDOW_MS, from the finest tier (a point per sample). */
  requestsPerSecond (now: number): number {
    return this.tiers['5m'].rateSince(now, this.rateBack)
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
