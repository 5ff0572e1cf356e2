// The history (lib/history.ts): three resolutions in fixed rings, and the request rate from its points.
import { test } from 'tap'
import { Histogram } from '../lib/histogram.js'
import { History, RATE_WINDOW_MS } from '../lib/history.js'
import { SERIES, type Gauges } from '../lib/schemas/history.js'

const gauges = (rss: number): Gauges => ({
  rss,
  heapUsed: 1,
  heapTotal: 2,
  external: 3,
  systemMemoryPercent: 50,
  cpuProcessPercent: 10,
  cpuSystemPercent: 20,
  eventLoopDelayP99Ms: 1,
  eventLoopUtilization: 0.1,
  dbPingMs: null,
  dbPoolInUse: null,
  dbCommandP95Ms: null
})

test('history: three resolutions in fixed rings, rates and windowed percentiles per step', async (t) => {
  const requests = { total: 0, errorCount: 0, histogram: new Histogram() }
  let now = 0
  const history = new History(requests, 1000, now)
  for (let second = 1; second <= 7200; second++) {
    for (let i = 0; i < 5; i++) {
      requests.total++
      requests.histogram.record(second <= 7190 ? 10 : 100)
    }
    if (second % 10 === 0) requests.errorCount++
    now = second * 1000
    const point = history.record(now, gauges(second))
    if (second === 1) {
      t.equal(point.timestamp, 1000)
      t.equal(point.values.requestsPerSecond, 5)
      t.equal(point.values.rss, 1)
    }
  }
  const fine = history.query('5m')
  t.equal(fine.stepMs, 1000)
  t.equal(fine.timestamps.length, 300, 'five minutes of one-second points, no more')
  t.equal(fine.timestamps.at(-1), 7_200_000)
  t.equal(fine.timestamps[0], 6_901_000)
  t.equal(fine.series.requestsPerSecond.at(-1), 5)
  t.ok(Math.abs(fine.series.p50Ms.at(-1)! - 100) <= 5, 'the last second saw 100 ms requests')
  t.ok(Math.abs(fine.series.p50Ms.at(-20)! - 10) <= 0.5, 'an earlier second saw 10 ms requests')
  t.equal(fine.series.dbPingMs.at(-1), null, 'a series nobody measures is null')
  const hour = history.query('1h')
  t.equal(hour.stepMs, 10_000)
  t.equal(hour.timestamps.length, 360)
  t.equal(hour.series.requestsPerSecond.at(-1), 5)
  t.equal(hour.series.errorsPerSecond.at(-1), 0.1)
  t.equal(hour.series.rss.at(-1), 7195.5, 'gauges are averaged over the step')
  const day = history.query('24h')
  t.equal(day.stepMs, 60_000)
  t.equal(day.timestamps.length, 120, 'two hours of one-minute points so far')
  t.same(Object.keys(day.series).sort(), [...SERIES].sort())
})

test('history: the first sample, taken right after start-up, is a point for the live stream', async (t) => {
  const requests = { total: 3, errorCount: 0, histogram: new Histogram() }
  const history = new History(requests, 1000, 5_000)
  const point = history.record(5_010, gauges(42))
  t.equal(point.timestamp, 5_010)
  t.equal(point.values.rss, 42)
  t.equal(point.values.requestsPerSecond, 0, 'no request since start-up')
  t.equal(history.query('5m').timestamps.length, 1)
  t.equal(history.query('1h').timestamps.length, 0, 'coarser tiers wait for their step')
})

test('history: the snapshot\'s requestsPerSecond is the rate over the last RATE_WINDOW_MS of samples, from the same points as the charts', async (t) => {
  const requests = { total: 0, errorCount: 0, histogram: new Histogram() }
  const history = new History(requests, 1000, 0)
  t.equal(history.requestsPerSecond(500), 0, 'no sample yet')
  // 2 requests a second for 20 s, then 10 a second for 5 s.
  for (let second = 1; second <= 25; second++) {
    requests.total += second <= 20 ? 2 : 10
    history.record(second * 1000, gauges(second))
  }
  t.equal(RATE_WINDOW_MS, 10_000)
  // From the point 10 samples back (15 s: total 30) to now (25 s: total 90).
  t.equal(history.requestsPerSecond(25_000), 6)
  // Between samples the window reaches to now, with the total as it is now.
  requests.total += 10
  t.equal(history.requestsPerSecond(25_500), 6.67)
  const counters = { total: 0, errorCount: 0, histogram: new Histogram() }
  const young = new History(counters, 100, 0)
  counters.total = 4
  young.record(100, gauges(1))
  counters.total = 6
  young.record(200, gauges(2))
  t.equal(young.requestsPerSecond(300), 10, 'before the window has filled, from the first sample: 2 requests in 0.2 s')
})
