// application.recent (lib/collectors/recent.ts): the last minute of requests from 10 s checkpoints.
import { test } from 'tap'
import { RecentRequests } from '../../lib/collectors/recent.js'
import { Histogram } from '../../lib/histogram.js'

test('issue 16: application.recent on a sample without responses keeps its figures and only widens the window', async (t) => {
  const histogram = new Histogram()
  const counters = { total: 0, errorCount: 0, histogram }
  const recent = new RecentRequests(counters)
  recent.tick(0)
  for (const ms of [10, 20, 30]) { histogram.record(ms); counters.total++ }
  counters.errorCount++
  const busy = recent.tick(1000)
  t.match(busy, { windowSeconds: 1, requests: 3, errors: 1, errorRate: 33.33 })
  const idle = recent.tick(5000)
  t.same(idle, { ...busy, windowSeconds: 5 })
  // A checkpoint is taken at 10 s: still the same oldest one, so the same figures.
  t.same(recent.tick(12_000), { ...busy, windowSeconds: 12 })
  histogram.record(40)
  counters.total++
  t.match(recent.tick(13_000), { windowSeconds: 13, requests: 4, errors: 1, errorRate: 25 })
  // Once the ring is full the oldest checkpoint moves on: recomputed though nothing was answered.
  for (let time = 20_000; time <= 70_000; time += 10_000) recent.tick(time)
  t.match(recent.tick(80_000), { requests: 1, errors: 0 })
})
