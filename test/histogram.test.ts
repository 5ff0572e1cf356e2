import { test } from 'tap'
import { BUCKET_COUNT, Histogram, HistogramWindow, bucketIndex, bucketUpperBound, percentileOf } from '../lib/histogram.js'

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
  t.equal(histogram.summary().mean, 500.5)
  t.equal(histogram.count, 1000)
  histogram.reset()
  t.equal(histogram.percentile(0.5), null)
  t.equal(histogram.summary().mean, null)
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
