/**
 * A fixed-size latency histogram in milliseconds, two significant digits per bucket (the HDR idea): in every
 * decade from 0.01 ms to 1,000 s, 90 linear buckets (1.0, 1.1, … 9.9 × 10^d). Reporting a bucket's middle
 * keeps the relative error at most 5% (half a bucket over the lowest edge of a decade: 0.5 / 10), memory is 722
 * counters whatever the traffic, and every Prometheus-style bound (2.5, 5, 10, 25 … ms) falls on a bucket edge.
 */
const MIN_DECADE = -2 // 0.01 ms
const DECADES = 8 // up to 1,000,000 ms
const PER_DECADE = 90
const MIN_VALUE = 10 ** MIN_DECADE
const MAX_VALUE = 10 ** (MIN_DECADE + DECADES)
export const BUCKET_COUNT = 1 + DECADES * PER_DECADE + 1 // underflow, the decades, overflow

/** 10^(d-1) for every decade d: a value's lead digits are value / STEP[d], with no Math.pow. */
const STEP = Array.from({ length: DECADES }, (_, i) => 10 ** (MIN_DECADE + i - 1))
/** 10^(d+1): the first value past decade d. */
const TOP = Array.from({ length: DECADES }, (_, i) => 10 ** (MIN_DECADE + i + 1))

/**
 * Called once per request. The decade is found by comparing with its upper edge, not by Math.log10: faster, since
 * a request's duration sits in the first three decades (benchmark/README.md), and the log rounded a value just
 * under the top (999,999.999999999 ms) up to a decade that does not exist, and returned NaN.
 */
export function bucketIndex (valueMs: number): number {
  if (!(valueMs >= MIN_VALUE)) return 0 // also catches NaN
  if (valueMs >= MAX_VALUE) return BUCKET_COUNT - 1
  let decade = 0
  while (valueMs >= TOP[decade]!) decade++
  // value / STEP is in [10, 100) up to the rounding of the division at either edge.
  let lead = Math.floor(valueMs / STEP[decade]!)
  if (lead < 10) lead = 10
  else if (lead > 99) lead = 99
  return 1 + decade * PER_DECADE + lead - 10
}

/** The upper edge of bucket `index`, in milliseconds (Infinity for the overflow bucket). */
export function bucketUpperBound (index: number): number {
  if (index <= 0) return MIN_VALUE
  if (index >= BUCKET_COUNT - 1) return Infinity
  const decade = Math.floor((index - 1) / PER_DECADE)
  const lead = ((index - 1) % PER_DECADE) + 10
  return round((lead + 1) * STEP[decade]!)
}

function bucketMiddle (index: number): number {
  if (index <= 0) return MIN_VALUE / 2
  const decade = Math.floor((index - 1) / PER_DECADE)
  const lead = ((index - 1) % PER_DECADE) + 10
  return round((lead + 0.5) * STEP[decade]!)
}

const round = (value: number) => Math.round(value * 1e4) / 1e4

export interface LatencySummary {
  mean: number | null
  p50: number | null
  p95: number | null
  p99: number | null
  max: number | null
}

const SUMMARY_QUANTILES = [0.5, 0.95, 0.99]
const round3 = (value: number) => Math.round(value * 1e3) / 1e3

export class Histogram {
  readonly counts = new Uint32Array(BUCKET_COUNT)
  count = 0
  sum = 0
  max = 0

  record (valueMs: number): void {
    this.recordAt(bucketIndex(valueMs), valueMs)
  }

  /** For callers that record one value into several histograms: the index is computed once. */
  recordAt (index: number, valueMs: number): void {
    this.counts[index]!++
    this.count++
    this.sum += valueMs
    if (valueMs > this.max) this.max = valueMs
  }

  /** The value at quantile `q` (0 to 1), or null when nothing was recorded. */
  percentile (q: number): number | null {
    return percentileOf(this.counts, this.count, q, this.max)
  }

  /** What every latency figure in the snapshot reports: mean, p50, p95, p99 and max, null while empty. */
  summary (): LatencySummary {
    const [p50, p95, p99] = percentilesOf(this, SUMMARY_QUANTILES)
    const empty = this.count === 0
    return {
      mean: empty ? null : round3(this.sum / this.count),
      p50: p50!,
      p95: p95!,
      p99: p99!,
      max: empty ? null : round3(this.max)
    }
  }

  /** Adds another histogram's values to this one. */
  add (other: Histogram): this {
    for (let index = 0; index < BUCKET_COUNT; index++) this.counts[index]! += other.counts[index]!
    this.count += other.count
    this.sum += other.sum
    if (other.max > this.max) this.max = other.max
    return this
  }

  reset (): void {
    this.counts.fill(0)
    this.count = 0
    this.sum = 0
    this.max = 0
  }
}

/**
 * The values at quantiles `qs` (ascending, 0 to 1) of a bucket array holding `total` values, in one pass, each
 * capped at `max` (the middle of the last bucket can lie above the largest value seen). Null when empty.
 */
export function quantilesOf (counts: ArrayLike<number>, total: number, qs: readonly number[], max = Infinity): Array<number | null> {
  const values: Array<number | null> = qs.map(() => null)
  if (total <= 0) return values
  let next = 0
  let seen = 0
  for (let index = 0; index < counts.length && next < qs.length; index++) {
    seen += counts[index]!
    while (next < qs.length && seen >= Math.max(1, Math.ceil(qs[next]! * total))) {
      values[next++] = round(index === counts.length - 1
        ? (max === Infinity ? MAX_VALUE : max)
        : Math.min(bucketMiddle(index), max))
    }
  }
  return values
}

export function percentileOf (counts: ArrayLike<number>, total: number, q: number, max = Infinity): number | null {
  return quantilesOf(counts, total, [q], max)[0]!
}

/** p50, p95, p99 (or any ascending quantiles) of a histogram, in one pass. */
export function percentilesOf (histogram: Histogram, qs: readonly number[]): Array<number | null> {
  return quantilesOf(histogram.counts, histogram.count, qs, histogram.max)
}

/**
 * Remembers a histogram's counts at one moment so that the values recorded since can be read as their own
 * distribution: the history's per-sample p50/p95/p99 without a second histogram on the request path.
 */
export class HistogramWindow {
  private readonly previous = new Uint32Array(BUCKET_COUNT)
  private readonly delta = new Uint32Array(BUCKET_COUNT)
  private previousCount = 0
  private previousSum = 0
  private deltaIsZero = true

  constructor (private readonly source: Histogram) {
    this.previous.set(source.counts)
    this.previousCount = source.count
    this.previousSum = source.sum
  }

  /** Closes the window: returns what was recorded since the last call and starts the next window. */
  advance (): { count: number, sum: number, quantiles: (qs: readonly number[]) => Array<number | null> } {
    const { counts } = this.source
    // Nothing recorded since the last call (the counts move only with the count): an empty window without
    // walking the buckets twice, which is what an idle server's samples did (benchmark/README.md).
    if (this.source.count === this.previousCount) {
      if (!this.deltaIsZero) this.delta.fill(0)
      this.deltaIsZero = true
    } else {
      for (let index = 0; index < BUCKET_COUNT; index++) {
        this.delta[index] = counts[index]! - this.previous[index]!
      }
      this.previous.set(counts)
      this.deltaIsZero = false
    }
    const count = this.source.count - this.previousCount
    const sum = this.source.sum - this.previousSum
    this.previousCount = this.source.count
    this.previousSum = this.source.sum
    const delta = this.delta
    return { count, sum, quantiles: (qs: readonly number[]) => quantilesOf(delta, count, qs) }
  }
}
