import { existsSync } from 'node:fs'
import { Writable } from 'node:stream'
import t from 'tap'
import { Value } from '@sinclair/typebox/value'
import { HealthSnapshotSchema } from '../lib/plugin.js'
import { CustomHistory } from '../lib/custom/history.js'
import { CustomMetrics } from '../lib/custom/registry.js'
import { buildApp } from './helpers/app.js'
import { chromiumMissing, launchBrowser, openPage } from './helpers/browser.js'
import { PROMTOOL, promtool, samples } from './helpers/prometheus.js'

const silentLog = { warn () {} }

t.test('counter, gauge and histogram through the decorator appear in /health and /metrics with their values', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const orders = app.serverWatch.counter('orders_total', { help: 'Orders placed', labelNames: ['method'] })
  const jobs = app.serverWatch.counter('jobs_run')
  const queue = app.serverWatch.gauge('queue_length', { help: 'Jobs waiting' })
  app.serverWatch.gauge('cache_hit_ratio', { collect: () => 0.75 })
  const charge = app.serverWatch.histogram('payment_duration_seconds', { help: 'Payment provider "charge" call', labelNames: ['provider'] })
  app.post('/orders', (request, reply) => {
    orders.inc(1, { method: 'card' })
    reply.send({ ok: true })
  })
  await app.ready()
  await app.inject({ method: 'POST', url: '/orders' })
  await app.inject({ method: 'POST', url: '/orders' })
  orders.inc(3, { method: 'invoice' })
  orders.inc()
  jobs.inc(2.5)
  queue.set(7)
  queue.inc()
  queue.dec(3)
  for (const ms of [0.5, 3, 7, 120]) charge.observe(ms, { provider: 'stripe' })
  charge.observe(20_000, { provider: 'adyen' })
  await app.serverWatch.refresh()

  const health = (await app.inject('/health')).json()
  t.same([...Value.Errors(HealthSnapshotSchema, health)].map((error) => `${error.path}: ${error.message}`), [], 'the schema holds')
  t.same(health.custom.orders_total, {
    type: 'counter',
    help: 'Orders placed',
    values: [{ labels: {}, value: 1 }, { labels: { method: 'card' }, value: 2 }, { labels: { method: 'invoice' }, value: 3 }]
  })
  t.same(health.custom.jobs_run, { type: 'counter', help: 'Custom counter jobs_run', values: [{ labels: {}, value: 2.5 }] })
  t.same(health.custom.queue_length.values, [{ labels: {}, value: 5 }])
  t.same(health.custom.cache_hit_ratio, { type: 'gauge', help: 'Custom gauge cache_hit_ratio', values: [{ labels: {}, value: 0.75 }] })
  t.same(health.custom.payment_duration_seconds.values, [
    { labels: { provider: 'stripe' }, count: 4, sum: 130.5, p50: 3.05, p95: 120, p99: 120, max: 120 },
    { labels: { provider: 'adyen' }, count: 1, sum: 20_000, p50: 20_000, p95: 20_000, p99: 20_000, max: 20_000 }
  ])
  t.same(app.serverWatch.snapshot().custom, health.custom, 'snapshot() serves the same')

  const text = (await app.inject('/metrics')).body
  t.same([...samples(text, 'orders_total')], [['', 1], ['{method="card"}', 2], ['{method="invoice"}', 3]], 'a name ending in _total keeps it')
  t.same([...samples(text, 'jobs_run_total')], [['', 2.5]], 'a counter gets _total')
  t.same([...samples(text, 'queue_length')], [['', 5]])
  t.same([...samples(text, 'cache_hit_ratio')], [['', 0.75]])
  t.match(text, '# HELP payment_duration_seconds Payment provider "charge" call\n# TYPE payment_duration_seconds histogram\n')
  const buckets = samples(text, 'payment_duration_seconds_bucket')
  const expected: Record<string, number> = {
    0.001: 1, 0.0025: 1, 0.005: 2, 0.01: 3, 0.025: 3, 0.05: 3, 0.1: 3, 0.25: 4, 0.5: 4, 1: 4, 2.5: 4, 5: 4, 10: 4, '+Inf': 4
  }
  for (const [le, count] of Object.entries(expected)) t.equal(buckets.get(`{provider="stripe",le="${le}"}`), count, `le=${le}`)
  t.equal(buckets.get('{provider="adyen",le="10"}'), 0)
  t.equal(buckets.get('{provider="adyen",le="+Inf"}'), 1)
  t.equal(samples(text, 'payment_duration_seconds_sum').get('{provider="stripe"}'), 0.1305, 'seconds')
  t.equal(samples(text, 'payment_duration_seconds_count').get('{provider="adyen"}'), 1)
  if (existsSync(PROMTOOL) || process.env.CI) {
    const lint = promtool(text)
    t.equal(lint.output, '', 'promtool accepts it')
    t.equal(lint.status, 0)
  }
})

t.test('a metric with no value yet: a counter reads 0, a gauge null and is left out of /metrics, a histogram counts 0', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  app.serverWatch.counter('signups_total')
  app.serverWatch.gauge('temperature')
  app.serverWatch.histogram('render_seconds')
  app.serverWatch.counter('labelled_total', { labelNames: ['kind'] })
  await app.ready()
  const { custom } = app.serverWatch.snapshot()
  t.same(custom.signups_total!.values, [{ labels: {}, value: 0 }])
  t.same(custom.temperature!.values, [{ labels: {}, value: null }])
  t.same(custom.render_seconds!.values, [{ labels: {}, count: 0, sum: 0, p50: null, p95: null, p99: null, max: null }])
  t.same(custom.labelled_total!.values, [], 'a labelled metric shows the series it recorded')
  const text = (await app.inject('/metrics')).body
  t.equal(samples(text, 'signups_total').get(''), 0)
  t.notMatch(text, /temperature/)
  t.equal(samples(text, 'render_seconds_count').get(''), 0)
  t.notMatch(text, /labelled_total/)
})

t.test('label sets past maxSeries share one "(other)" series: memory stays bounded and the overflow is visible', async (t) => {
  const custom = new CustomMetrics(silentLog)
  const hits = custom.counter('cache_hits_total', { labelNames: ['cache', 'tenant'], maxSeries: 3 })
  const latency = custom.histogram('query_seconds', { labelNames: ['tenant'], maxSeries: 2 })
  for (let tenant = 0; tenant < 1000; tenant++) {
    hits.inc(1, { cache: 'users', tenant: `t${tenant}` })
    latency.observe(1, { tenant })
  }
  hits.inc(5, { cache: 'users', tenant: 't1' })
  const { cache_hits_total: counter, query_seconds: histogram } = custom.snapshot()
  t.same(counter!.values, [
    { labels: { cache: 'users', tenant: 't0' }, value: 1 },
    { labels: { cache: 'users', tenant: 't1' }, value: 6 },
    { labels: { cache: 'users', tenant: 't2' }, value: 1 },
    { labels: { cache: '(other)', tenant: '(other)', series_overflow: 'true' }, value: 997 }
  ])
  t.same((histogram!.values as Array<{ labels: object, count: number }>).map((value) => [value.labels, value.count]), [
    [{ tenant: '0' }, 1], [{ tenant: '1' }, 1], [{ tenant: '(other)', series_overflow: 'true' }, 998]
  ], 'numbers as label values are strings')
})

t.test('the same name with the same options returns the same metric; anything else is a coded error naming it', async (t) => {
  const custom = new CustomMetrics(silentLog)
  const orders = custom.counter('orders_total', { help: 'Orders', labelNames: ['method'] })
  t.equal(custom.counter('orders_total', { help: 'Orders', labelNames: ['method'] }), orders, 'like getSingleMetric')
  const collect = () => 1
  t.equal(custom.gauge('depth', { collect }), custom.gauge('depth', { collect }))
  const invalid = (fn: () => unknown, message: string | RegExp, what: string) =>
    t.throws(fn, { code: 'FST_SERVER_WATCH_INVALID_METRIC', message }, what)
  invalid(() => custom.counter('orders_total', { help: 'Other' }), 'custom metric "orders_total" is already registered as a counter with other options', 'other options')
  invalid(() => custom.gauge('orders_total'), 'custom metric "orders_total" is already registered as a counter', 'another type')
  invalid(() => custom.gauge('depth', { collect: () => 2 }), /other options/, 'another collect function')
  invalid(() => custom.counter('orders'), 'custom metric "orders" would write "orders_total" in /metrics, which another custom metric writes', 'a clash in /metrics')
  custom.histogram('render')
  invalid(() => custom.gauge('render_count'), /would write "render_count"/, 'a histogram takes _count')
  invalid(() => custom.counter('9lives'), /custom metric "9lives" is not a valid name/, 'a digit first')
  invalid(() => custom.counter('orders-placed'), /"orders-placed" is not a valid name/, 'a dash')
  invalid(() => custom.counter(42 as unknown as string), /custom metric "42" is not a valid name/, 'not a string')
  invalid(() => custom.counter('http_requests_total'), 'custom metric "http_requests_total" may not start with "http_": the plugin\'s own metrics do', 'the plugin\'s names')
  invalid(() => custom.gauge('nodejs_heap_size_used_bytes'), /may not start with "nodejs_"/, 'the plugin\'s names')
  invalid(() => custom.counter('a_total', { labelNames: ['ok', 'bad-label'] }), 'custom metric "a_total" has an invalid label name "bad-label" (letters, digits and "_", not starting with a digit or "__")', 'a label name')
  invalid(() => custom.counter('b_total', { labelNames: ['__name'] }), /invalid label name "__name"/, 'reserved label prefix')
  invalid(() => custom.histogram('c_seconds', { labelNames: ['le'] }), /may not have a label "le"/, 'le on a histogram')
  invalid(() => custom.counter('d_total', { labelNames: ['x', 'x'] }), /names the label "x" twice/, 'a label twice')
  invalid(() => custom.counter('e_total', { labelNames: 'x' as unknown as string[] }), /"labelNames" must be an array/, 'labelNames not an array')
  invalid(() => custom.counter('f_total', { maxSeries: 0 }), /"maxSeries" must be an integer from 1 to 10000/, 'maxSeries')
  invalid(() => custom.counter('g_total', { collect: () => 1 } as object), /unknown option "collect" \(a counter takes help, labelNames, maxSeries\)/, 'collect on a counter')
  invalid(() => custom.gauge('h', { collect: () => 1, labelNames: ['x'] }), /no labelNames/, 'collect with labels')
  invalid(() => custom.gauge('i', { collect: 5 as unknown as () => number }), /"collect" must be a function/, 'collect not a function')
  invalid(() => custom.gauge('j', { help: 5 as unknown as string }), /"help" must be a string/, 'help')
  invalid(() => custom.gauge('k', 'help' as unknown as object), /options must be an object/, 'options')
  t.equal(custom.size, 3, 'nothing invalid was registered')
})

t.test('an invalid record throws a coded error naming the metric and changes nothing', async (t) => {
  const custom = new CustomMetrics(silentLog)
  const orders = custom.counter('orders_total', { labelNames: ['method'] })
  const depth = custom.gauge('depth')
  const read = custom.gauge('read', { collect: () => 1 })
  const render = custom.histogram('render_seconds')
  const code = 'FST_SERVER_WATCH_INVALID_METRIC'
  t.throws(() => orders.inc(-1), { code, message: 'custom metric "orders_total" inc() takes a finite number >= 0, got -1' })
  t.throws(() => orders.inc(Number.NaN), { code })
  t.throws(() => orders.inc(1, { methd: 'card' }), { code, message: 'custom metric "orders_total" has no label "methd" (its labelNames: method)' })
  t.throws(() => custom.counter('plain_total').inc(1, { method: 'card' }), { message: /has no label "method" \(its labelNames: none\)/ })
  t.throws(() => depth.set('3' as unknown as number), { code, message: 'custom metric "depth" takes a number, got string' })
  t.throws(() => read.set(2), { code, message: /is read from its collect function/ })
  t.throws(() => render.observe(-0.1), { code })
  t.throws(() => render.observe(Infinity), { code })
  const snapshot = custom.snapshot()
  t.same(snapshot.orders_total!.values, [])
  t.same(snapshot.depth!.values, [{ labels: {}, value: null }])
  t.match(snapshot.render_seconds!.values[0], { count: 0 })
  custom.counter('plain_total').inc(1, {})
  t.same(custom.snapshot().plain_total!.values, [{ labels: {}, value: 1 }], '{} on an unlabelled metric is its one series')
})

t.test('a collect function is read on the sampling loop; one that throws logs once and reads null until it recovers', async (t) => {
  const lines: Array<{ msg: string, level: number }> = []
  const stream = new Writable({
    write (chunk, _encoding, done) {
      lines.push(JSON.parse(String(chunk)))
      done()
    }
  })
  const app = await buildApp({ sampleIntervalMs: 3_600_000 }, { logger: { level: 'warn', stream } })
  t.teardown(() => app.close())
  let value: () => unknown = () => 3
  let calls = 0
  app.serverWatch.gauge('pool_free', { collect: () => { calls++; return value() as number } })
  await app.ready()
  const read = () => (app.serverWatch.snapshot().custom.pool_free!.values[0] as { value: number | null }).value
  const before = calls
  t.equal(read(), calls > 0 ? 3 : null)
  app.serverWatch.snapshot()
  t.equal(calls, before, 'a snapshot does not call it')
  await app.serverWatch.refresh()
  t.equal(read(), 3)
  value = () => { throw new Error('pool gone') }
  await app.serverWatch.refresh()
  await app.serverWatch.refresh()
  t.equal(read(), null)
  value = () => 'many'
  await app.serverWatch.refresh()
  t.equal(read(), null, 'not a number reads null')
  const warnings = lines.filter((line) => line.msg.includes('custom gauge "pool_free"'))
  t.equal(warnings.length, 1, 'logged once')
  t.match(warnings[0]!.msg, 'the collect function of custom gauge "pool_free" failed')
  value = () => 4
  await app.serverWatch.refresh()
  t.equal(read(), 4, 'recovered')
  value = () => { throw new Error('again') }
  await app.serverWatch.refresh()
  t.equal(lines.filter((line) => line.msg.includes('custom gauge "pool_free"')).length, 2, 'a new failure after a recovery logs again')
})

t.test('the dashboard lists custom metrics in their card, hostile text as text', { skip: chromiumMissing() ?? false }, async (t) => {
  const app = await buildApp()
  const hostile = '<img src=x onerror="window.pwned=1">'
  const orders = app.serverWatch.counter('orders_total', { help: `Orders ${hostile}`, labelNames: ['method'] })
  const render = app.serverWatch.histogram('render_seconds')
  app.serverWatch.gauge('queue_length').set(12)
  orders.inc(2, { method: hostile })
  render.observe(40)
  render.observe(60)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const session = await launchBrowser()
  t.teardown(async () => {
    await session.close()
    await app.close()
  })
  const watched = await openPage(session)
  const { port } = app.server.address() as { port: number }
  await watched.page.goto(`http://127.0.0.1:${port}/dashboard`)
  await watched.page.waitForFunction(() => document.querySelectorAll('#custom-body tr').length === 3)
  const rows = await watched.page.$$eval('#custom-body tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)))
  t.same(rows, [
    ['orders_total', 'counter', `method=${hostile}`, '2'],
    ['render_seconds', 'histogram', '–', '2 · p50 41 ms · p95 60 ms · p99 60 ms'],
    ['queue_length', 'gauge', '–', '12']
  ])
  t.equal(await watched.page.getAttribute('#custom-body tr td', 'title'), `Orders ${hostile}`, 'help as a tooltip')
  t.equal(await watched.page.$$eval('#custom img', (images) => images.length), 0, 'no element made from server text')
  t.equal(await watched.page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined)
  t.ok(await watched.page.isHidden('#custom-empty'))
  await watched.page.waitForFunction(() => document.querySelectorAll('#custom-charts canvas').length === 3)
  t.same(await watched.page.$$eval('#custom-charts figcaption', (captions) => captions.map((caption) => caption.textContent)),
    ['orders_total · per second', 'render_seconds · p95 ms', 'queue_length · value'])
  const points = await watched.page.evaluate(() => [...document.querySelectorAll('#custom-charts canvas')]
    .map((canvas) => ((window as any).Chart.getChart(canvas)?.data.datasets[0].data ?? []).length))
  t.ok(points.every((count) => count >= 1), `every chart has points (${points.join(', ')})`)
  t.same(watched.problems, [])
  await watched.context.close()
})

t.test('the history keeps one figure per metric and sample: a counter\'s rate, a gauge\'s sum, a histogram\'s p95 since the last sample', async (t) => {
  const custom = new CustomMetrics(silentLog)
  const history = new CustomHistory(custom, 1000)
  const orders = custom.counter('orders_total', { labelNames: ['method'] })
  const queue = custom.gauge('queue_length', { labelNames: ['queue'] })
  const render = custom.histogram('render_seconds', { labelNames: ['page'] })
  orders.inc(5, { method: 'card' })
  history.record(10_000)
  orders.inc(4, { method: 'card' })
  orders.inc(2, { method: 'cash' })
  queue.set(3, { queue: 'a' })
  queue.set(4, { queue: 'b' })
  for (const ms of [10, 20, 30]) render.observe(ms, { page: 'home' })
  render.observe(500, { page: 'cart' })
  history.record(12_000)
  history.record(13_000)
  const late = custom.gauge('late')
  late.set(1)
  history.record(14_000)
  t.same(history.query(), {
    timestamps: [10_000, 12_000, 13_000, 14_000],
    series: {
      orders_total: { type: 'counter', figure: 'per second', values: [null, 3, 0, 0] },
      queue_length: { type: 'gauge', figure: 'value', values: [null, 7, 7, 7] },
      render_seconds: { type: 'histogram', figure: 'p95 ms', values: [null, 505, null, null] }, // the middle of 500's bucket
      late: { type: 'gauge', figure: 'value', values: [null, null, null, 1] }
    }
  }, 'the first point has no rate yet; a histogram without new values has no p95; a metric registered later starts empty')
  const ring = new CustomHistory(custom, 100_000)
  for (let i = 0; i < 5; i++) ring.record(i * 100_000)
  t.same(ring.query().timestamps, [200_000, 300_000, 400_000], 'five minutes of points, the oldest dropped')
})

t.test('GET {dashboardPath}/api/custom-history serves the history behind the same access as the dashboard', async (t) => {
  const app = await buildApp({ sampleIntervalMs: 3_600_000 })
  t.teardown(() => app.close())
  const jobs = app.serverWatch.counter('jobs_total')
  await app.ready()
  await app.serverWatch.refresh()
  jobs.inc(7)
  await app.serverWatch.refresh()
  const response = await app.inject('/dashboard/api/custom-history')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['cache-control'], 'no-store')
  const body = response.json()
  t.match(body.series.jobs_total, { type: 'counter', figure: 'per second' })
  t.ok(body.timestamps.length >= 2, 'a point per sample')
  t.equal(body.series.jobs_total.values.length, body.timestamps.length)
  // (Two samples in the same millisecond give no rate: the values themselves are pinned by the test above.)
  const remote = await app.inject({ url: '/dashboard/api/custom-history', remoteAddress: '203.0.113.9' })
  t.equal(remote.statusCode, 403)
})
