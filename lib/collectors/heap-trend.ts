import { PerformanceObserver, constants } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'
import type { HeapTrend } from '../schemas/health.js'
import type { Collector } from './types.js'

const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS
const MB = 1024 * 1024

/** The baseline is trended over this window, one point a minute at most. */
export const HEAP_TREND_WINDOW_MS = HOUR_MS
/** Rising takes enough points over a long enough span, a slope above a floor and a line that fits. */
export const HEAP_TREND_MIN_POINTS = 10
export const HEAP_TREND_MIN_SPAN_MS = 20 * MINUTE_MS
export const HEAP_TREND_MIN_SLOPE = 1 * MB
export const HEAP_TREND_MIN_R2 = 0.6

export interface BaselinePoint {
  /** ms since the epoch */
  time: number
  /** heap used right after a major GC */
  bytes: number
}

/**
 * Linear regression of the post-GC baselines: what stays after a full collection is what the app holds, so a
 * baseline that keeps climbing is a leak sign, where heap used alone rises and falls with every GC cycle.
 */
export function heapTrendOf (points: readonly BaselinePoint[], now: number): HeapTrend {
  const recent = points.filter((point) => point.time > now - HEAP_TREND_WINDOW_MS && point.time <= now)
  const n = recent.length
  if (n === 0) return { baselineBytes: null, slopeBytesPerHour: null, rising: false, points: 0 }
  const last = recent[n - 1]!
  if (n < 2) return { baselineBytes: last.bytes, slopeBytesPerHour: null, rising: false, points: n }
  const t0 = recent[0]!.time
  let meanX = 0
  let meanY = 0
  for (const point of recent) {
    meanX += (point.time - t0) / HOUR_MS
    meanY += point.bytes
  }
  meanX /= n
  meanY /= n
  let sxx = 0
  let sxy = 0
  let syy = 0
  for (const point of recent) {
    const dx = (point.time - t0) / HOUR_MS - meanX
    const dy = point.bytes - meanY
    sxx += dx * dx
    sxy += dx * dy
    syy += dy * dy
  }
  const slope = sxx === 0 ? 0 : sxy / sxx
  const r2 = sxx === 0 || syy === 0 ? 0 : (sxy * sxy) / (sxx * syy)
  const rising = n >= HEAP_TREND_MIN_POINTS &&
    last.time - t0 >= HEAP_TREND_MIN_SPAN_MS &&
    slope >= HEAP_TREND_MIN_SLOPE &&
    r2 >= HEAP_TREND_MIN_R2
  return { baselineBytes: last.bytes, slopeBytesPerHour: Math.round(slope), rising, points: n }
}

/**
 * Post-GC baselines in fixed memory: one point per minute (the lowest heap seen after a major GC that minute,
 * the best estimate of what is really held), the last hour kept.
 */
export class HeapBaselines {
  private readonly times = new Float64Array(HEAP_TREND_WINDOW_MS / MINUTE_MS)
  private readonly bytes = new Float64Array(HEAP_TREND_WINDOW_MS / MINUTE_MS)
  private head = 0
  private filled = 0

  /** Bumped by every record() that changes a point: the trend is recomputed only then (or when a point ages out). */
  version = 0

  record (time: number, bytes: number): void {
    this.version++
    const size = this.times.length
    const newest = (this.head - 1 + size) % size
    if (this.filled > 0 && Math.floor(this.times[newest]! / MINUTE_MS) === Math.floor(time / MINUTE_MS)) {
      if (bytes < this.bytes[newest]!) this.bytes[newest] = bytes
      return
    }
    this.times[this.head] = time
    this.bytes[this.head] = bytes
    this.head = (this.head + 1) % size
    if (this.filled < size) this.filled++
  }

  /** When the oldest point kept leaves the trend's window (Infinity with none). */
  oldestExpiresAt (): number {
    if (this.filled === 0) return Number.POSITIVE_INFINITY
    const size = this.times.length
    return this.times[(this.head - this.filled + size) % size]! + HEAP_TREND_WINDOW_MS
  }

  /** Oldest first. */
  points (): BaselinePoint[] {
    const size = this.times.length
    const start = (this.head - this.filled + size) % size
    return Array.from({ length: this.filled }, (_, i) => {
      const index = (start + i) % size
      return { time: this.times[index]!, bytes: this.bytes[index]! }
    })
  }
}

/** Reads the heap after every major GC; the trend is computed on the sampling loop. */
export function createHeapTrendCollector (now: () => number = Date.now): Collector<HeapTrend> & { baselines: HeapBaselines } {
  const baselines = new HeapBaselines()
  let last = heapTrendOf([], now())
  let computedAt = baselines.version
  // Delivered after the GC, before much else has run: the heap used then is what the collection left.
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as { detail?: { kind?: number } | null }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        baselines.record(now(), getHeapStatistics().used_heap_size)
        return
      }
    }
  })
  observer.observe({ entryTypes: ['gc'] })
  return {
    baselines,
    // The trend changes only after a major GC or when a point ages out: not recomputed on the samples between
    // (an idle server's loop; benchmark/README.md, "The sampling loop's idle cost").
    sample () {
      const time = now()
      if (baselines.version === computedAt && time < baselines.oldestExpiresAt()) return
      computedAt = baselines.version
      last = heapTrendOf(baselines.points(), time)
    },
    read: () => last,
    close: () => observer.disconnect()
  }
}
