import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import t from 'tap'
import { Value } from '@sinclair/typebox/value'
import { createHeapTrendCollector, HeapBaselines, heapTrendOf, type BaselinePoint } from '../../lib/collectors/heap-trend.js'
import { HeapTrendSchema } from '../../lib/schemas/health.js'
import { buildApp } from '../helpers/app.js'

const MB = 1024 * 1024
const MINUTE = 60_000
const START = Date.UTC(2026, 10, 30, 5, 0, 0)

/** A deterministic noise source (a linear congruential generator), from -1 to 1. */
function noise (seed: number) {
  let state = seed
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31
    return state / 2 ** 30 - 1
  }
}

/** One post-GC baseline a minute for `minutes`: `base` + `perHour` growth + noise of up to `jitter` either side. */
function series (minutes: number, base: number, perHour: number, jitter: number, seed = 7): BaselinePoint[] {
  const next = noise(seed)
  return Array.from({ length: minutes }, (_, i) => ({
    time: START + i * MINUTE,
    bytes: Math.round(base + perHour * i / 60 + jitter * next())
  }))
}

t.test('a leaking app: the baseline climbs 20 MB/h under 4 MB of noise: rising, with its rate', async (t) => {
  const points = series(60, 80 * MB, 20 * MB, 4 * MB)
  const trend = heapTrendOf(points, START + 59 * MINUTE)
  t.equal(trend.rising, true)
  t.equal(trend.points, 60)
  t.equal(trend.baselineBytes, points[59]!.bytes)
  t.ok(Math.abs(trend.slopeBytesPerHour! - 20 * MB) < 3 * MB, `slope ${(trend.slopeBytesPerHour! / MB).toFixed(1)} MB/h`)
  t.ok(Value.Check(HeapTrendSchema, trend))
})

t.test('an app that does not leak: the same noise over the same window raises no alarm', async (t) => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) {
    const trend = heapTrendOf(series(60, 80 * MB, 0, 4 * MB, seed), START + 59 * MINUTE)
    t.equal(trend.rising, false, `seed ${seed}: slope ${(trend.slopeBytesPerHour! / MB).toFixed(2)} MB/h`)
    t.equal(trend.points, 60)
  }
  // A sawtooth (a cache filled then cleared every 10 minutes) is not a leak either.
  const sawtooth = Array.from({ length: 60 }, (_, i) => ({ time: START + i * MINUTE, bytes: 80 * MB + (i % 10) * 2 * MB }))
  t.equal(heapTrendOf(sawtooth, START + 59 * MINUTE).rising, false)
})

t.test('too little evidence is not a leak: few points, a short span, a tiny slope', async (t) => {
  const leak = series(60, 80 * MB, 20 * MB, 0)
  t.equal(heapTrendOf(leak.slice(0, 9), START + 8 * MINUTE).rising, false, '9 points')
  t.equal(heapTrendOf(leak.filter((_, i) => i % 2 === 0).slice(0, 10), START + 18 * MINUTE).rising, false, '18 minutes')
  t.equal(heapTrendOf(series(60, 80 * MB, 0.5 * MB, 0), START + 59 * MINUTE).rising, false, '0.5 MB/h')
  t.same(heapTrendOf([], START), { baselineBytes: null, slopeBytesPerHour: null, rising: false, points: 0 })
  t.same(heapTrendOf([{ time: START, bytes: 5 }], START), { baselineBytes: 5, slopeBytesPerHour: null, rising: false, points: 1 })
  // Points older than an hour no longer count: a leak that stopped an hour ago is not rising now.
  const stopped = [...series(60, 80 * MB, 20 * MB, 0), ...series(60, 100 * MB, 0, MB).map((point) => ({ ...point, time: point.time + 60 * MINUTE }))]
  const now = START + 119 * MINUTE
  t.equal(heapTrendOf(stopped, now).rising, false)
  t.equal(heapTrendOf(stopped, now).points, 60)
})

t.test('baselines: one point a minute at most (the lowest), the last hour kept in fixed memory', async (t) => {
  const baselines = new HeapBaselines()
  baselines.record(START, 50)
  baselines.record(START + 10_000, 40)
  baselines.record(START + 50_000, 45)
  baselines.record(START + MINUTE, 60)
  t.same(baselines.points(), [{ time: START, bytes: 40 }, { time: START + MINUTE, bytes: 60 }])
  for (let i = 2; i < 200; i++) baselines.record(START + i * MINUTE, i)
  const points = baselines.points()
  t.equal(points.length, 60)
  t.same(points[0], { time: START + 140 * MINUTE, bytes: 140 })
  t.same(points[59], { time: START + 199 * MINUTE, bytes: 199 })
})

t.test('issue 16: the trend is recomputed only when a baseline is recorded or one leaves the hour', async (t) => {
  let now = START
  const collector = createHeapTrendCollector(() => now)
  t.teardown(() => collector.close())
  collector.baselines.record(START, 50 * MB)
  collector.baselines.record(START + MINUTE, 60 * MB)
  now = START + 2 * MINUTE
  collector.sample()
  t.same(collector.read(), heapTrendOf(collector.baselines.points(), now))
  t.equal(collector.read().points, 2)
  const before = collector.read()
  now = START + 30 * MINUTE
  collector.sample()
  t.equal(collector.read(), before, 'nothing changed: the same figures, not recomputed')
  now = START + 60 * MINUTE
  collector.sample()
  t.same(collector.read(), { baselineBytes: 60 * MB, slopeBytesPerHour: null, rising: false, points: 1 }, 'the first point left the hour')
  collector.baselines.record(START + 62 * MINUTE, 70 * MB)
  now = START + 62 * MINUTE
  collector.sample()
  t.same(collector.read(), heapTrendOf(collector.baselines.points(), now))
  t.equal(collector.read().baselineBytes, 70 * MB)
})

t.test('the collector reads the heap after a major GC, with an injected clock', async (t) => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  let now = START
  const collector = createHeapTrendCollector(() => now)
  t.teardown(() => collector.close())
  for (let minute = 0; minute < 3; minute++) {
    now = START + minute * MINUTE
    gc()
    for (let i = 0; i < 50 && collector.baselines.points().length <= minute; i++) await new Promise((resolve) => setImmediate(resolve))
  }
  collector.sample()
  const trend = collector.read()
  t.equal(trend.points, 3)
  t.ok(trend.baselineBytes! > MB && trend.baselineBytes! < 2048 * MB, `a plausible heap (${Math.round(trend.baselineBytes! / MB)} MB)`)
  t.equal(trend.rising, false)
})

t.test('memory.process.heapTrend in the snapshot', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  await app.ready()
  await app.serverWatch.refresh()
  const { heapTrend } = app.serverWatch.snapshot().memory.process
  t.ok(Value.Check(HeapTrendSchema, heapTrend))
  t.equal(heapTrend.rising, false)
  const health = (await app.inject('/health')).json()
  t.same(health.memory.process.heapTrend, heapTrend)
})
