// The exposition writer (lib/prometheus.ts): escaping, bounds, buckets and numbers, on figures given to it.
import t from 'tap'
import { RequestMetrics } from '../lib/requests/store.js'
import { Histogram } from '../lib/histogram.js'
import { GC_DURATION_BOUNDS, HTTP_DURATION_BOUNDS, boundIndexes, escapeHelp, escapeLabelValue, labels, renderMetrics } from '../lib/prometheus/index.js'
import { buildApp } from './helpers/app.js'
import { readOf, samples } from './helpers/prometheus.js'

t.test('label values and help text are escaped per the text format', async (t) => {
  t.equal(escapeLabelValue('plain /users/:id'), 'plain /users/:id')
  t.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd')
  t.equal(escapeHelp('back\\slash "quoted"\nnext'), 'back\\\\slash "quoted"\\nnext', 'quotes stay in help text')
  t.equal(labels(), '')
  t.equal(labels(['route', '/a"b'], ['method', 'GET']), '{route="/a\\"b",method="GET"}')
})

t.test('every le bound is an exact edge of the fine histogram, and a bound that is not one is refused', async (t) => {
  const indexes = boundIndexes(HTTP_DURATION_BOUNDS)
  t.equal(indexes.length, HTTP_DURATION_BOUNDS.length)
  t.same([...indexes].sort((a, b) => a - b), indexes, 'ascending')
  t.equal(boundIndexes(GC_DURATION_BOUNDS).length, GC_DURATION_BOUNDS.length)
  t.throws(() => boundIndexes([0.00333]), RangeError)
})

t.test('the duration histogram counts each request in the right buckets, by method, route and status class', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  await app.ready()
  const requests = new RequestMetrics(10, 10, 100)
  const users = requests.endpointFor('GET', '/users/:id')
  // 0.5 ms, 3 ms, 4.99 ms, 7 ms, 120 ms, 20 s as 200s; one 500 of 30 ms.
  for (const ms of [0.5, 3, 4.99, 7, 120, 20_000]) requests.record(users, 200, ms)
  requests.record(users, 503, 30)
  const text = renderMetrics(readOf({ requests, snapshot: app.serverWatch.snapshot() }))
  const ok = 'method="GET",route="/users/:id",status_class="2xx"'
  const buckets = samples(text, 'http_request_duration_seconds_bucket')
  const expected: Record<string, number> = {
    0.001: 1, 0.0025: 1, 0.005: 3, 0.01: 4, 0.025: 4, 0.05: 4, 0.1: 4, 0.25: 5, 0.5: 5, 1: 5, 2.5: 5, 5: 5, 10: 5, '+Inf': 6
  }
  for (const [le, count] of Object.entries(expected)) t.equal(buckets.get(`{${ok},le="${le}"}`), count, `le=${le}`)
  t.equal(samples(text, 'http_request_duration_seconds_count').get(`{${ok}}`), 6)
  t.ok(Math.abs(samples(text, 'http_request_duration_seconds_sum').get(`{${ok}}`)! - 20.13549) < 1e-9, 'sum in seconds')
  const errors = 'method="GET",route="/users/:id",status_class="5xx"'
  t.equal(buckets.get(`{${errors},le="0.025"}`), 0)
  t.equal(buckets.get(`{${errors},le="0.05"}`), 1)
  t.same([...samples(text, 'http_requests_total')], [[`{${ok}}`, 6], [`{${errors}}`, 1]])
  t.same([...samples(text, 'http_responses_by_code_total')], [['{code="200"}', 6], ['{code="503"}', 1]])
})

t.test('issue 15.9: sample values are printed without float noise, and still round-trip', async (t) => {
  const { formatValue } = await import('../lib/prometheus/index.js')
  t.equal(formatValue(0.024321000000000002), '0.024321')
  t.equal(formatValue(24.321 / 1000), '0.024321')
  t.equal(formatValue(0.1 + 0.2), '0.3')
  t.equal(formatValue(3), '3')
  t.equal(formatValue(2 ** 53), '9007199254740992', 'integers exactly')
  t.equal(formatValue(1.5e-7), '1.5e-7')
  t.equal(formatValue(Number.POSITIVE_INFINITY), '+Inf')
  t.equal(formatValue(Number.NEGATIVE_INFINITY), '-Inf')
  t.equal(formatValue(Number.NaN), 'NaN')
  const { msToSeconds } = await import('../lib/prometheus/index.js')
  t.equal(formatValue(msToSeconds(4.09683199999927)), '0.004096832', 'a float sum of durations, at nanosecond resolution')
  for (const value of [0.001234567890123, 1234.5678, 1e-9, 123456789.123]) t.equal(Number(formatValue(value)), value, `${value} round-trips`)

  const app = await buildApp()
  t.teardown(() => app.close())
  await app.ready()
  await app.serverWatch.refresh()
  for (let i = 0; i < 20; i++) await app.inject('/users/1')
  const text = (await app.inject('/metrics')).body
  const noisy = text.split('\n').filter((line) => line.includes('_seconds') && !line.startsWith('#') && /\d\.\d*(?:0{6,}|9{6,})\d/.test(line.slice(line.lastIndexOf(' '))))
  t.same(noisy, [], 'no duration with float noise')
})

t.test('the renderer only renders: heap spaces and GC pauses come from the read model, not read at scrape time', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  await app.ready()
  const space = { space_name: 'old_space', space_size: 4096, space_used_size: 1024, space_available_size: 3072, physical_space_size: 4096 }
  const minor = new Histogram()
  minor.record(0.5)
  minor.record(3)
  const text = renderMetrics(readOf({
    snapshot: app.serverWatch.snapshot(),
    heapSpaces: [space],
    gc: new Map([['minor', minor]])
  }))
  t.same([...samples(text, 'nodejs_heap_space_size_used_bytes')], [['{space="old"}', 1024]], 'the sampled spaces, and only those')
  t.equal(samples(text, 'nodejs_gc_duration_seconds_count').get('{kind="minor"}'), 2)
  t.equal(samples(text, 'nodejs_gc_duration_seconds_bucket').get('{kind="minor",le="0.001"}'), 1)
  const bare = renderMetrics(readOf({ snapshot: app.serverWatch.snapshot() }))
  t.notMatch(bare, /^nodejs_heap_space_|^nodejs_gc_/m, 'without them in the model, no such series')
})
