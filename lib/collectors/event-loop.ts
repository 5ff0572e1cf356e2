import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks'
import { round } from '../format.js'
import type { Collector } from './types.js'

const RESOLUTION_MS = 10

export interface EventLoopSample {
  delayMs: { p50: number | null, p99: number | null, max: number | null }
  utilization: number | null
}

/** Event-loop delay and utilization over the last sample interval (the histogram is reset after each read). */
export function createEventLoopCollector (): Collector<EventLoopSample> {
  // 10 ms resolution: a timer every 10 ms costs ~0.05% of a core and sees any stall that matters to requests.
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS })
  delay.enable()
  let lastUtilization: EventLoopUtilization = performance.eventLoopUtilization()
  let last: EventLoopSample = { delayMs: { p50: null, p99: null, max: null }, utilization: null }
  // The histogram records the whole interval between two timer ticks; the delay is what exceeds the resolution.
  const ms = (nanoseconds: number) => round(Math.max(0, nanoseconds / 1e6 - RESOLUTION_MS))

  function sample (): void {
    const utilization = performance.eventLoopUtilization(lastUtilization)
    lastUtilization = performance.eventLoopUtilization()
    const measured = delay.count > 0
    last = {
      delayMs: measured
        ? { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) }
        : { p50: null, p99: null, max: null },
      utilization: round(utilization.utilization, 4)
    }
    delay.reset()
  }
  return { sample, read: () => last, close: () => delay.disable() }
}
