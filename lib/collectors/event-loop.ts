import { createHistogram, performance, type EventLoopUtilization } from 'node:perf_hooks'
import { round } from '../format.js'
import type { Collector } from './types.js'

const RESOLUTION_MS = 50

export interface EventLoopSample {
  delayMs: { p50: number | null, p99: number | null, max: number | null }
  utilization: number | null
}

/**
 * Event-loop delay and utilization over the last sample interval. The delay is measured by a timer of our own,
 * not `monitorEventLoopDelay`: its `reset()` also forgets when it last ticked, so the first interval after each
 * reset is never recorded, and a stall that starts right after a sample (the sampler runs on a timer, so that is
 * where one lands) went unseen: a loop blocked in 300 ms chunks read 0.1 ms (test/alerts.test.ts). Here the last
 * tick survives the reset of the histogram.
 */
export function createEventLoopCollector (): Collector<EventLoopSample> {
  // The timer wakes the loop every RESOLUTION_MS, and those wake-ups are most of the plugin's idle cost: at 50 ms a
  // stall that matters to requests (tens of ms and more) is still seen, 20 times a second (benchmark/README.md).
  const delays = createHistogram()
  let lastTick = performance.now()
  const timer = setInterval(() => {
    const now = performance.now()
    // What the interval took beyond its resolution, at least 1 ns (a histogram records positive integers).
    delays.record(Math.max(1, Math.round((now - lastTick - RESOLUTION_MS) * 1e6)))
    lastTick = now
  }, RESOLUTION_MS)
  timer.unref()
  let lastUtilization: EventLoopUtilization = performance.eventLoopUtilization()
  let last: EventLoopSample = { delayMs: { p50: null, p99: null, max: null }, utilization: null }
  const ms = (nanoseconds: number) => round(Math.max(0, nanoseconds / 1e6))

  function sample (): void {
    const utilization = performance.eventLoopUtilization(lastUtilization)
    lastUtilization = performance.eventLoopUtilization()
    // A stall still in progress when the sample is taken (the sample itself runs late) counts too.
    const now = performance.now()
    const pending = now - lastTick - RESOLUTION_MS
    if (pending > 0) {
      delays.record(Math.max(1, Math.round(pending * 1e6)))
      lastTick = now // counted here, not again by the next tick
    }
    const measured = delays.count > 0
    last = {
      delayMs: measured
        ? { p50: ms(delays.percentile(50)), p99: ms(delays.percentile(99)), max: ms(delays.max) }
        : { p50: null, p99: null, max: null },
      utilization: round(utilization.utilization, 4)
    }
    delays.reset()
  }
  return { sample, read: () => last, close: () => clearInterval(timer) }
}
