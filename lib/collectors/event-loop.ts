import { createHistogram, performance, type EventLoopUtilization } from 'node:perf_hooks'
import { round } from '../format.js'
import type { EventLoopSnapshot } from '../schemas/health.js'
import type { Collector } from './types.js'

/** The timer's period while the loop works: a stall that matters to requests (tens of ms and more) is seen in full. */
export const BUSY_RESOLUTION_MS = 50
/**
 * Its period while the loop idles: each wake-up costs about 0.025 % of a core here, most of the plugin's idle cost
 * (benchmark/README.md, "Wake-ups"). With the sample's own wake-up, an idle loop is woken twice a second.
 */
export const IDLE_RESOLUTION_MS = 500
/** An interval in which the loop worked more than this share of the time is busy, and the next one is timed finely. */
const BUSY_SHARE = 0.02
/** An idle-mode tick later than this came after one stretch of work, and that stretch's length is the delay. */
const STALL_MS = BUSY_RESOLUTION_MS / 2

export type EventLoopSample = EventLoopSnapshot

/** What the collector reads time from; tests give their own. */
export interface LoopClock {
  now (): number
  /** Milliseconds the loop has spent outside its idle wait, in all, up to now (event-loop utilization's `active`). */
  activeMs (): number
  /**
   * Calls `tick` once after `ms`, in place of any tick still pending, without keeping the process alive; returns the
   * cancel function.
   */
  schedule (tick: () => void, ms: number): () => void
}

/**
 * The process's clock, one per collector. Its one Timeout is re-armed with refresh() while the delay stays the same,
 * as it does on every tick of a busy loop: a new Timeout each time cost a timer list, a heap insertion and native
 * calls, twenty times a second (benchmark/README.md, "What the last points are not").
 */
export function processLoopClock (): LoopClock {
  let timer: NodeJS.Timeout | null = null
  let timerMs = 0
  let timerTick: (() => void) | null = null
  const cancel = (): void => {
    if (timer !== null) clearTimeout(timer)
    timer = null
  }
  return {
    now: () => performance.now(),
    activeMs: () => performance.eventLoopUtilization().active,
    schedule (tick, ms) {
      if (timer !== null && ms === timerMs && tick === timerTick) {
        timer.refresh()
      } else {
        cancel()
        timer = setTimeout(tick, ms)
        timer.unref()
        timerMs = ms
        timerTick = tick
      }
      return cancel
    }
  }
}

/**
 * Event-loop delay and utilization over the last sample interval. The delay is measured by a timer of our own,
 * not `monitorEventLoopDelay`: its `reset()` also forgets when it last ticked, so the first interval after each
 * reset is never recorded, and a stall that starts right after a sample (the sampler runs on a timer, so that is
 * where one lands) went unseen: a loop blocked in 300 ms chunks read 0.1 ms (test/alerts.test.ts). Here the last
 * tick survives the reset of the histogram.
 *
 * The timer ticks every 50 ms while the loop works and every 500 ms while it idles. An idle loop has nothing
 * that a finer timer would time except a stall; a stall long enough to make a coarse tick late (by 25 ms or
 * more) is recorded as the loop's work since the last tick, which in an idle loop is that stall, so it reads as
 * long as it was, as it would at 50 ms. A stall that ends before a coarse tick is due is not seen at all; one
 * that ends after it (any stall of 500 ms or more does) is.
 */
export function createEventLoopCollector (
  clock: LoopClock = processLoopClock(),
  /** When the sampling loop's timer is next due (or was, while its sample runs): a wake-up that comes anyway. */
  nextSampleAt: () => number = () => Number.POSITIVE_INFINITY
): Collector<EventLoopSample> {
  const delays = createHistogram()
  let period = IDLE_RESOLUTION_MS
  let lastTick = clock.now()
  let dueAt = lastTick + period
  let lastActive = clock.activeMs()

  /**
   * Records how late the tick due at `due` is now (unless `onlyIfLate` and it is not), then arms the next tick:
   * finely if the loop worked since the last one. An idle tick that would come within half a period of the
   * sampling loop's next wake-up is left to that wake-up (it is armed after it instead, in case the sample is
   * late): at the default 1 s interval an idle loop is woken once a second and by the sample.
   */
  function advance (due: number, onlyIfLate: boolean): void {
    const now = clock.now()
    const active = clock.activeMs()
    // Never before the last measurement: what came before it is counted already.
    const late = now - Math.max(due, lastTick)
    const work = active - lastActive
    if (!onlyIfLate || late > 0) {
      const delay = period === IDLE_RESOLUTION_MS && late > STALL_MS ? Math.max(late, work) : late
      // At least 1 ns: a histogram records positive integers.
      delays.record(Math.max(1, Math.round(delay * 1e6)))
    }
    period = work > (now - lastTick) * BUSY_SHARE ? BUSY_RESOLUTION_MS : IDLE_RESOLUTION_MS
    lastTick = now
    lastActive = active
    dueAt = now + period
    // The period itself, not dueAt - now, which rounding can move by a hair: the same delay keeps the same Timeout.
    let delay = period
    const sampleAt = nextSampleAt()
    if (period === IDLE_RESOLUTION_MS && sampleAt > now && dueAt > sampleAt - period / 2) {
      dueAt = sampleAt + period
      delay = dueAt - now
    }
    cancel = clock.schedule(tick, delay)
  }
  function tick (): void {
    advance(dueAt, false)
  }
  let cancel = clock.schedule(tick, period)

  let lastUtilization: EventLoopUtilization = performance.eventLoopUtilization()
  let last: EventLoopSample = { delayMs: { p50: null, p99: null, max: null }, utilization: null }
  const ms = (nanoseconds: number) => round(Math.max(0, nanoseconds / 1e6))

  function sample (): void {
    const utilization = performance.eventLoopUtilization(lastUtilization)
    lastUtilization = performance.eventLoopUtilization()
    // A stall still in progress when the sample is taken (the sample itself runs late) counts too, and is not
    // counted again by the next tick, which is timed from here.
    // The sample is due when the sampling loop's timer was, if that is what runs it (not a refresh()).
    // With no tick in the interval (samples at most 500 ms apart, or refresh() calls), the sample is the one
    // measurement: recorded even when on time, so that the delay reads as measured, not unknown.
    advance(Math.min(dueAt, nextSampleAt()), delays.count > 0)
    const measured = delays.count > 0
    last = {
      delayMs: measured
        ? { p50: ms(delays.percentile(50)), p99: ms(delays.percentile(99)), max: ms(delays.max) }
        : { p50: null, p99: null, max: null },
      utilization: round(utilization.utilization, 4)
    }
    delays.reset()
  }
  return { sample, read: () => last, close: () => cancel() }
}
