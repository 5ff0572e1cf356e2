import { test } from 'tap'
import { BUCKET_COUNT, Histogram, HistogramWindow, bucketIndex, bucketUpperBound, percentileOf } from '../lib/histogram.js'
import { History, RATE_WINDOW_MS } from '../lib/history.js'
import { SERIES, type Gauges } from '../lib/schemas/history.js'

test('every value from 0.01 ms to 1000 s is reported within 5% of itself', async (t) => {
  let worst = 0
  for (let value = 0.01; value < 1_000_000; value *= 1.0137) {
    const histogram = new Histogram()
    histogram.record(value)
    histogram.record(1_000_000) // keeps the cap at max out of the way
    const reported = histogram.percentile(0.5)!
    worst = Math.max(worst, Math.abs(reported - value) / value)
  }
  t.ok(worst <= 0.05 + 1e-9, `worst relative error ${(worst * 100).toFixed(2)}%`)
})

test('percentiles of a known distribution', async (t) => {
  const histogram = new Histogram()
  for (let ms = 1; ms <= 1000; ms++) histogram.record(ms)
  const within = (actual: number | null, expected: number) => Math.abs(actual! - expected) / expected <= 0.05
  t.ok(within(histogram.percentile(0.5), 500), `p50 ${histogram.percentile(0.5)}`)
  t.ok(within(histogram.percentile(0.95), 950), `p95 ${histogram.percentile(0.95)}`)
  t.ok(within(histogram.percentile(0.99), 990), `p99 ${histogram.percentile(0.99)}`)
  t.equal(histogram.max, 1000)
  t.equal(histogram.percentile(1), 1000, 'capped at the largest value seen')
  t.equal(histogram.mean(), 500.5)
  t.equal(histogram.count, 1000)
  histogram.reset()
  t.equal(histogram.percentile(0.5), null)
  t.equal(histogram.mean(), null)
})

test('the bucket array has a fixed size and out-of-range values land in the end buckets', async (t) => {
  const histogram = new Histogram()
  t.equal(histogram.counts.length, BUCKET_COUNT)
  t.equal(bucketIndex(0), 0)
  t.equal(bucketIndex(Number.NaN), 0)
  t.equal(bucketIndex(-5), 0)
  t.equal(bucketIndex(5_000_000), BUCKET_COUNT - 1)
  histogram.record(5_000_000)
  t.equal(histogram.percentile(0.5), 5_000_000)
  t.equal(percentileOf(histogram.counts, 0, 0.5), null)
  for (let i = 0; i < 100_000; i++) histogram.record(Math.random() * 10_000)
  t.equal(histogram.counts.length, BUCKET_COUNT, 'no growth with the number of values')
})

test('every value falls in the bucket whose edges hold it, up to the top of the last decade', async (t) => {
  let misplaced = 0
  for (let value = 0.01; value < 1_000_000; value *= 1.00071) {
    const index = bucketIndex(value)
    const lower = bucketUpperBound(index - 1)
    const upper = bucketUpperBound(index)
    if (!(value >= lower * (1 - 1e-12) && value < upper * (1 + 1e-12))) misplaced++
  }
  t.equal(misplaced, 0)
  // Math.log10 rounded this up to a ninth decade that does not exist, and the index came out NaN.
  t.equal(bucketIndex(999_999.999999999), BUCKET_COUNT - 2)
  t.equal(bucketIndex(1_000_000), BUCKET_COUNT - 1)
  t.equal(bucketIndex(0.01), 1)
})

test('Prometheus-style bounds are exact bucket edges', async (t) => {
  const edges = new Set(Array.from({ length: BUCKET_COUNT - 1 }, (_, i) => bucketUpperBound(i)))
  for (const bound of [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000]) {
    t.ok(edges.has(bound), `${bound} ms is an edge`)
    t.equal(bucketUpperBound(bucketIndex(bound * 0.999)), bound, `${bound * 0.999} falls at or under ${bound}`)
  }
  t.equal(bucketUpperBound(BUCKET_COUNT - 1), Infinity)
})

test('a histogram window reads what was recorded since the last advance', async (t) => {
  const histogram = new Histogram()
  for (let i = 0; i < 100; i++) histogram.record(1)
  const window = new HistogramWindow(histogram)
  for (let i = 0; i < 10; i++) histogram.record(200)
  const first = window.advance()
  t.equal(first.count, 10)
  t.ok(Math.abs(first.quantiles([0.5])[0]! - 200) <= 10)
  const empty = window.advance()
  t.equal(empty.count, 0)
  t.same(empty.quantiles([0.5, 0.99]), [null, null])
})

test('issue 16: a window after an empty one (no walk of the buckets) reads only what came after it', async (t) => {
  const histogram = new Histogram()
  const window = new HistogramWindow(histogram)
  for (let i = 0; i < 10; i++) histogram.record(200)
  t.equal(window.advance().count, 10)
  t.equal(window.advance().count, 0)
  t.equal(window.advance().count, 0)
  histogram.record(1)
  histogram.record(1)
  const next = window.advance()
  t.equal(next.count, 2)
  t.same(next.quantiles([0.5, 0.99]).map((value) => value! < 1.1), [true, true], 'the 200 ms values are not in it')
})

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
