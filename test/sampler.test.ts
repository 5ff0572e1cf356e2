// The sampling loop (lib/sampler.ts) on fake timers: one sample at a time, re-armed after each, stopped on close.
import { test } from 'tap'
import { Sampler } from '../lib/sampler.js'
import { fakeClock } from './helpers/time.js'

test('the sampler never overlaps samples, re-arms one timer after each sample and stops on close', async (t) => {
  const clock = fakeClock(t)
  const started = performance.now()
  let running = 0
  let maxRunning = 0
  let samples = 0
  const sampler = new Sampler(10, async () => {
    running++
    maxRunning = Math.max(maxRunning, running)
    await new Promise((resolve) => setTimeout(resolve, 30))
    samples++
    running--
  }, { warn () {} })
  sampler.start()
  sampler.start()
  await Promise.all([sampler.sample(), sampler.sample(), clock.tickAsync(30)])
  t.equal(samples, 1, 'start() and the concurrent sample() calls shared the first sample')
  // Each sample takes 30 ms and the next starts 10 ms after it ends: one every 40 ms, never two at once.
  await clock.tickAsync(215)
  t.equal(maxRunning, 1, 'one sample at a time, even when a sample is slower than the interval')
  t.equal(samples, 6, 'samples ended at 30, 70, 110, 150, 190 and 230 ms')
  t.equal(sampler.nextDueAt() - started, 240, 'the one running now was due 10 ms after the last ended')
  sampler.close()
  const after = samples
  await clock.tickAsync(1000)
  t.equal(samples - after, 1, 'only the sample in flight finishes after close')
  t.equal(clock.countTimers(), 0, 'no timer left')
})

test('issue 15.7: a sample that rejects does not stop the loop: it re-arms every time and logs once until it recovers', async (t) => {
  const clock = fakeClock(t)
  const warnings: unknown[] = []
  const log = { warn: (obj: object, message: string) => { warnings.push([obj, message]) } }
  let fail = true
  let calls = 0
  const sampler = new Sampler(1000, () => { calls++; return fail ? Promise.reject(new Error('sample exploded')) : Promise.resolve() }, log)
  t.teardown(() => sampler.close())
  sampler.start()
  await clock.tickAsync(0)
  t.equal(calls, 1, 'the first sample, at start')
  await clock.tickAsync(1000)
  t.equal(calls, 2, 'the loop re-armed after it rejected')
  await clock.tickAsync(1000)
  t.equal(calls, 3, 'and again')
  t.equal(warnings.length, 1, 'logged once, not once a sample')
  t.match(warnings[0], [{ err: { message: 'sample exploded' } }, /sampling loop/])
  fail = false
  await clock.tickAsync(1000)
  fail = true
  await clock.tickAsync(1000)
  t.equal(calls, 5)
  t.equal(warnings.length, 2, 'a new failure after a recovery is logged again')
})

test('refresh() includes what the caller did before it: a sample already in flight is followed by a new one, which concurrent callers share', async (t) => {
  const clock = fakeClock(t)
  let counted = 0
  const seen: number[] = []
  const sampler = new Sampler(1000, async () => {
    const read = counted // a sample reads its figures when it starts, as the collectors do
    await new Promise((resolve) => setTimeout(resolve, 30))
    seen.push(read)
  }, { warn () {} })
  t.teardown(() => sampler.close())
  sampler.start()
  await clock.tickAsync(1) // the loop's first sample is in flight and has read counted = 0
  counted = 1
  const refreshed = Promise.all([sampler.fresh(), sampler.fresh()])
  await clock.tickAsync(59)
  await refreshed
  t.same(seen, [0, 1], 'the loop sample read 0; the one refresh() waited for started after it and read 1; the two callers shared it')
  const idle = sampler.fresh()
  await clock.tickAsync(30)
  await idle
  t.same(seen, [0, 1, 1], 'with nothing in flight, refresh() starts one at once')
})
