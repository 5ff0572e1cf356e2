import { BUCKET_COUNT, quantilesOf } from '../histogram.js'
import type { Static } from '@sinclair/typebox'
import { round } from '../format.js'
import type { RequestCounters } from '../requests/counts.js'
import type { RecentRequestsSchema } from '../schemas/health.js'

/** The window that alert rules on request figures read: long enough to smooth one slow request, short enough to clear. */
export const RECENT_WINDOW_MS = 60_000
const CHECKPOINT_MS = 10_000

/** The counters a window is taken of: the application's, or one endpoint's (its `histogram` read once a tick). */
export type WindowSource = Pick<RequestCounters, 'total' | 'errorCount' | 'histogram'>

/**
 * The snapshot's `application.recent`: `windowSeconds` reaches up to 70 once the ring is full (checkpoints are 10 s
 * apart); `errorRate` is null without responses.
 */
export type RecentFigures = Static<typeof RecentRequestsSchema>

interface Checkpoint { time: number, total: number, errors: number, counts: Uint32Array }

/**
 * Request figures over the last minute, where the snapshot's are since start. A ring of checkpoints of the
 * counters, one every 10 s, taken on the sampling loop: the window is now minus the oldest. Fixed memory: 8
 * copies of the histogram's counters (23 kB), whatever the traffic.
 */
export class RecentRequests {
  private readonly ring: Checkpoint[] = []
  private readonly delta = new Uint32Array(BUCKET_COUNT)
  private latest: RecentFigures | null = null
  /** What `latest` was computed from: the oldest checkpoint and the response total then. */
  private latestOldest: Checkpoint | null = null
  private latestTotal = 0

  constructor (private readonly source: WindowSource, private readonly windowMs = RECENT_WINDOW_MS) {}

  /** Called once per sample: takes a checkpoint when the last is 10 s old, then computes the window. */
  tick (now: number): RecentFigures {
    const histogram = this.source.histogram
    const newest = this.ring.at(-1)
    if (newest === undefined || now - newest.time >= CHECKPOINT_MS) {
      const reuse = this.ring.length > this.windowMs / CHECKPOINT_MS ? this.ring.shift()! : null
      const counts = reuse?.counts ?? new Uint32Array(BUCKET_COUNT)
      counts.set(histogram.counts)
      this.ring.push({ time: now, total: this.source.total, errors: this.source.errorCount, counts })
    }
    const oldest = this.ring[0]!
    // No response since the last tick and the same oldest checkpoint: the same figures, the window one sample
    // longer. What an idle server's samples cost (benchmark/README.md, "The sampling loop's idle cost").
    const latest = this.latest
    if (latest !== null && oldest === this.latestOldest && this.source.total === this.latestTotal) {
      this.latest = { ...latest, windowSeconds: Math.round((now - oldest.time) / 1000) }
      return this.latest
    }
    this.latestOldest = oldest
    this.latestTotal = this.source.total
    const requests = this.source.total - oldest.total
    const errors = this.source.errorCount - oldest.errors
    const counts = histogram.counts
    let count = 0
    for (let i = 0; i < BUCKET_COUNT; i++) {
      this.delta[i] = counts[i]! - oldest.counts[i]!
      count += this.delta[i]!
    }
    const [p50 = null, p95 = null, p99 = null] = quantilesOf(this.delta, count, [0.5, 0.95, 0.99])
    this.latest = {
      windowSeconds: Math.round((now - oldest.time) / 1000),
      requests,
      errors,
      errorRate: requests === 0 ? null : round(errors / requests * 100, 2),
      responseTimeMs: { p50, p95, p99 }
    }
    return this.latest
  }

  read (): RecentFigures {
    return this.latest ?? { windowSeconds: 0, requests: 0, errors: 0, errorRate: null, responseTimeMs: { p50: null, p95: null, p99: null } }
  }
}
