import { test } from 'tap'
import { BUSY_RESOLUTION_MS, IDLE_RESOLUTION_MS, createEventLoopCollector, processLoopClock, type LoopClock } from '../../lib/collectors/event-loop.js'

/** A loop whose time, work and one pending timer the test moves by hand. */
function fakeLoop () {
  let time = 0
  let active = 0
  let timer: { at: number, tick: () => void } | null = null
  const periods: number[] = []
  const clock: LoopClock = {
    now: () => time,
    activeMs: () => active,
    schedule (tick, ms) {
      periods.push(ms)
      const scheduled = { at: time + ms, tick }
      timer = scheduled
      return () => { if (timer === scheduled) timer = null }
    }
  }
  /** Runs the timer if it is due: what the loop does whenever it is free. */
  const fireDue = () => {
    for (let due = timer; due !== null && due.at <= time; due = timer) {
      timer = null
      due.tick()
    }
  }
  return {
    clock,
    periods,
    /** The loop waits `ms`, running its timer when due (its callbacks take no time). */
    idle (ms: number) {
      const end = time + ms
      for (let next = timer; next !== null && next.at <= end; next = timer) {
        time = next.at
        fireDue()
      }
      time = end
    },
    /** The loop works `ms` in `chunkMs` pieces, running the timer between them (`chunkMs` = ms: one stall). */
    work (ms: number, chunkMs = ms) {
      for (let done = 0; done < ms; done += chunkMs) {
        time += chunkMs
        active += chunkMs
        fireDue()
      }
    },
    /** The loop is `ms` into a piece of work that has not ended: nothing runs meanwhile. */
    stuck (ms: number) {
      time += ms
      active += ms
    }
  }
}

test('issue 16: an idle loop is timed every 500 ms, not every 50, and a busy one every 50 ms', async (t) => {
  const loop = fakeLoop()
  const collector = createEventLoopCollector(loop.clock)
  t.teardown(() => collector.close())
  loop.idle(1000)
  t.same(loop.periods, [IDLE_RESOLUTION_MS, IDLE_RESOLUTION_MS, IDLE_RESOLUTION_MS])
  loop.periods.length = 0
  loop.work(1000, 2) // requests: 2 ms pieces, the loop never stalls
  // The first tick was armed while idle; once it has seen the work, every tick is 50 ms apart.
  t.equal(loop.periods.length, 1 + (1000 - IDLE_RESOLUTION_MS) / BUSY_RESOLUTION_MS)
  t.same(new Set(loop.periods.slice(1)), new Set([BUSY_RESOLUTION_MS]))
  collector.sample()
  t.ok(collector.read().delayMs.max! <= 2, `small pieces of work are no stall (max ${collector.read().delayMs.max} ms)`)
  loop.periods.length = 0
  loop.idle(1000)
  t.same(loop.periods, [IDLE_RESOLUTION_MS, IDLE_RESOLUTION_MS], 'coarse again once idle')
})

test('issue 16: a stall right after a tick of an idle loop reads in full once it makes the next tick late, not as the 100 ms by which it did', async (t) => {
  const loop = fakeLoop()
  const collector = createEventLoopCollector(loop.clock)
  t.teardown(() => collector.close())
  loop.idle(1000) // ends right on a tick
  collector.sample()
  loop.work(600)
  loop.idle(120)
  collector.sample()
  // Within the histogram's precision (three significant digits).
  t.ok(Math.abs(collector.read().delayMs.max! - 600) < 1, `max ${collector.read().delayMs.max} ms`)
  t.ok(Math.abs(collector.read().delayMs.p99! - 600) < 1, `p99 ${collector.read().delayMs.p99} ms`)
  // The next interval is calm: the stall is not counted twice.
  loop.idle(1000)
  collector.sample()
  t.ok(collector.read().delayMs.max! < 1, `calm again (${collector.read().delayMs.max} ms)`)
})

test('issue 16: the price of two wake-ups a second: on an idle loop, a stall that ends before the next tick is due is not timed', async (t) => {
  const loop = fakeLoop()
  const collector = createEventLoopCollector(loop.clock)
  t.teardown(() => collector.close())
  loop.idle(1000) // ends right on a tick; the next is due at 1500
  collector.sample()
  loop.work(300)
  loop.idle(100)
  collector.sample()
  t.ok(collector.read().delayMs.max! < 1, `not timed (max ${collector.read().delayMs.max} ms)`)
  // Any stall of 500 ms or more spans a tick, and so does one on a loop that worked more than 2 % of the interval
  // before (timed every 50 ms): those are timed in full (the tests around this one).
})

test('issue 16: a stall still in progress at the sample counts, and only once', async (t) => {
  const loop = fakeLoop()
  const collector = createEventLoopCollector(loop.clock)
  t.teardown(() => collector.close())
  loop.idle(1000)
  collector.sample()
  // The sample itself comes late: the loop was stuck in 600 ms of work when its timer was due.
  loop.stuck(600)
  collector.sample()
  t.ok(Math.abs(collector.read().delayMs.max! - 600) < 1, `max ${collector.read().delayMs.max} ms`)
  loop.idle(1000)
  collector.sample()
  t.ok(collector.read().delayMs.max! < 1, `calm again (${collector.read().delayMs.max} ms)`)
})

test('issue 16: the sampling loop\'s own wake-up stands in for the idle tick before it, and a stall that makes it late reads in full', async (t) => {
  const loop = fakeLoop()
  let sampleAt = 1000 // the sampler's timer: due every 1000 ms
  const collector = createEventLoopCollector(loop.clock, () => sampleAt)
  t.teardown(() => collector.close())
  loop.idle(1000)
  // A tick at 500; the one due at 1000 is left to the sample (armed for 1500 in case it is late).
  t.same(loop.periods, [IDLE_RESOLUTION_MS, 2 * IDLE_RESOLUTION_MS])
  loop.periods.length = 0
  collector.sample()
  sampleAt = 2000 // the sampler re-arms after its sample
  loop.idle(760)
  t.same(loop.periods, [IDLE_RESOLUTION_MS, 2 * IDLE_RESOLUTION_MS], 'armed again from the sample')
  // A 300 ms stall 260 ms after the last tick: no tick is due before the sample, which comes 60 ms late.
  loop.stuck(300)
  collector.sample()
  t.ok(Math.abs(collector.read().delayMs.max! - 300) < 1, `max ${collector.read().delayMs.max} ms`)
})

test('issue 31: the process clock re-arms its one Timeout while the delay stays, and still ticks once', async (t) => {
  const realSetTimeout = globalThis.setTimeout
  let created = 0
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    created++
    return realSetTimeout(...args)
  }) as typeof setTimeout
  // The clock's timers are unref()'d: this one keeps the test's process alive until they have run.
  const alive = realSetTimeout(() => {}, 60_000)
  t.teardown(() => {
    globalThis.setTimeout = realSetTimeout
    clearTimeout(alive)
  })
  const clock = processLoopClock()
  let ticks = 0
  const ticked = new Promise<void>((resolve) => {
    const tick = (): void => {
      ticks++
      resolve()
    }
    // A busy loop's ticks: the same delay each time, so one Timeout, refreshed.
    clock.schedule(tick, 5)
    clock.schedule(tick, 5)
    clock.schedule(tick, 5)
    t.equal(created, 1, 'one Timeout for the same delay')
    // Another delay (an idle tick aligned with the sample) replaces it.
    clock.schedule(tick, 6)
    t.equal(created, 2, 'a new Timeout for another delay')
  })
  await ticked
  // Nothing else pending: a replaced Timeout must not fire as well.
  await new Promise((resolve) => realSetTimeout(resolve, 30))
  t.equal(ticks, 1, 'ticked once')
  const cancel = clock.schedule(() => { ticks++ }, 5)
  cancel()
  await new Promise((resolve) => realSetTimeout(resolve, 30))
  t.equal(ticks, 1, 'a cancelled tick does not run')
})
