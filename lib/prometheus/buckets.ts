import { BUCKET_COUNT, bucketUpperBound } from '../histogram.js'

/** Seconds. The Prometheus client defaults, with 1 ms and 2.5 ms added: Fastify answers many routes faster than 5 ms. */
export const HTTP_DURATION_BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** Seconds: prom-client's GC bounds. */
export const GC_DURATION_BOUNDS = [0.001, 0.01, 0.1, 1, 2, 5]

/** The index of the fine bucket whose upper edge is each bound: the `le` count is the cumulative count up to it. */
export function boundIndexes (boundsSeconds: readonly number[]): number[] {
  return boundsSeconds.map((seconds) => {
    const ms = Math.round(seconds * 1e7) / 1e4
    for (let index = 0; index < BUCKET_COUNT; index++) {
      if (bucketUpperBound(index) === ms) return index
    }
    throw new RangeError(`${seconds} s is not a bucket edge of the latency histogram`)
  })
}

export const HTTP_BOUND_INDEXES = boundIndexes(HTTP_DURATION_BOUNDS)
export const GC_BOUND_INDEXES = boundIndexes(GC_DURATION_BOUNDS)

/**
 * Milliseconds to seconds at nanosecond resolution, finer than any duration measured here: a sum of many float
 * durations carries rounding error in its last digits (0.00409683199999927), which this drops.
 */
export const msToSeconds = (ms: number): number => Math.round(ms * 1e6) / 1e9

/** Milliseconds to seconds, a missing figure staying missing. */
export const seconds = (ms: number | null | undefined): number | null => ms === null || ms === undefined ? null : msToSeconds(ms)
