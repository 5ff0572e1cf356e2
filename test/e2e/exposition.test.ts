// Issue 26.5-26.8 and 30.2, end to end: every documented and every edge configuration of /metrics goes through
// promtool AND a real Prometheus that scrapes them all at once, and every target must stay `up` with no sample
// dropped as a duplicate. Then the stock prom-client board queries (docs/prometheus.md) must all answer.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import { MongoClient } from 'mongodb'
import t from 'tap'
import serverWatch, { type ServerWatchOptions } from '../../lib/plugin.js'
import { buildApp, sleep } from '../helpers/app.js'
import { startMongoServer } from '../helpers/mongo-server.js'
import { PROMETHEUS, duplicateSeries, promtool, startPrometheus } from '../helpers/prometheus.js'

const LONG = { sampleIntervalMs: 3_600_000 }

/** The stock prom-client board ("NodeJS Application Dashboard", grafana.com 11159): its queries, as docs/prometheus.md lists them. */
export const STOCK_BOARD_QUERIES = [
  'irate(process_cpu_user_seconds_total[1m])', 'irate(process_cpu_system_seconds_total[1m])', 'irate(process_cpu_seconds_total[1m])',
  'nodejs_eventloop_lag_seconds', 'nodejs_version_info', 'changes(process_start_time_seconds[1m])',
  'process_resident_memory_bytes', 'nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_external_memory_bytes',
  'nodejs_active_handles_total', 'nodejs_active_requests_total',
  'nodejs_heap_space_size_total_bytes', 'nodejs_heap_space_size_used_bytes', 'nodejs_heap_space_size_available_bytes'
]

async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `127.0.0.1:${(app.server.address() as { port: number }).port}`
}

t.test('every configuration register accepts is a valid exposition that a real Prometheus keeps up', {
  skip: existsSync(PROMETHEUS) || process.env.CI ? false : `${PROMETHEUS} is not installed (apt-get install -y prometheus)`,
  timeout: 120_000
}, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-exposition-e2e-'))
  const mongo = await startMongoServer()
  const client = new MongoClient(mongo.uri, { monitorCommands: true, serverSelectionTimeoutMS: 1000, heartbeatFrequencyMS: 500 })
  const apps: Record<string, FastifyInstance> = {}
  t.teardown(async () => {
    for (const app of Object.values(apps)) await app.close()
    await client.close()
    await mongo.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  // Every documented option of `prometheus`, labels whose values need escaping, and custom metrics with every edge.
  apps.labelled = await buildApp({
    ...LONG,
    prometheus: { prefix: 'shop_', labels: { service: 'checkout', env: 'prod "eu"\\1\nx' }, statusCode: true },
    checks: { 'cache "hot"': () => true },
    alerts: { rules: [{ name: 'slow', metric: 'eventLoop.delayMs.p99', above: 1e9 }] }
  })
  const custom = apps.labelled.serverWatch
  const orders = custom.counter('orders_total', { labelNames: ['method', 'tenant'], maxSeries: 6 })
  orders.inc(1)
  orders.inc(2, { method: '' })
  orders.inc(1, { method: '(other)', tenant: '(other)' })
  orders.inc(1, { method: 'card\u0001', tenant: 'a' })
  orders.inc(1, { method: 'card', tenant: '\u0001a' })
  orders.inc(1, { method: 'tab\there', tenant: 'cr\rhere' })
  orders.inc(1, { method: 'quote"back\\slash', tenant: 'new\nline' })
  for (let i = 0; i < 5; i++) orders.inc(1, { method: 'overflow', tenant: String(i) }) // the sixth series, then four past maxSeries
  custom.gauge('queue_ratio').set(0.1 + 0.2)
  custom.gauge('limit_value').set(Infinity)
  custom.gauge('unknown_value').set(NaN)
  custom.histogram('charge_seconds', { labelNames: ['provider'], maxSeries: 1 }).observe(12.5, { provider: 'stripe' })
  custom.histogram('charge_seconds', { labelNames: ['provider'], maxSeries: 1 }).observe(7, { provider: 'adyen' })

  // Shared mode, with a connectionTimeout (http_requests_timed_out_total) and custom metrics.
  const shared = Fastify({ connectionTimeout: 1000 })
  await shared.register(serverWatch, { ...LONG, shared: { dir, name: 'e2e' } } satisfies ServerWatchOptions)
  shared.get('/users/:id', async () => 'ok')
  apps.shared = shared
  shared.serverWatch.counter('jobs_total', { labelNames: ['queue'] }).inc(1, { queue: '' })

  apps.mongo = await buildApp({ ...LONG, mongo: client })
  apps.plain = await buildApp(LONG)

  const targets: Record<string, string> = {}
  for (const [name, app] of Object.entries(apps)) targets[name] = await listen(app)
  await client.db('app').collection('items').insertOne({ a: 1 })
  for (const [name, address] of Object.entries(targets)) {
    for (const path of ['/users/1', '/users/2', '/fail', '/teapot', '/nowhere']) await fetch(`http://${address}${path}`).catch(() => {})
    await apps[name]!.serverWatch.refresh()
  }
  // serverStatus answers on its own interval: wait for it, so the op and state labels are in the scrape.
  const mongoText = async () => (await apps.mongo!.inject('/metrics')).body
  for (const deadline = Date.now() + 30_000; !(await mongoText()).includes('mongodb_server_opcounters_total{op='); await sleep(100)) {
    if (Date.now() > deadline) break
    await apps.mongo.serverWatch.refresh()
  }

  for (const [name, app] of Object.entries(apps)) {
    const text = (await app.inject('/metrics')).body
    t.equal(promtool(text).output, '', `${name}: promtool accepts it`)
    t.same(duplicateSeries(text), [], `${name}: no series written twice`)
  }
  const labelledText = (await apps.labelled.inject('/metrics')).body
  t.match(labelledText, /shop_http_request_duration_seconds_count\{service="checkout",env="prod \\"eu\\"\\\\1\\nx",method="GET",route="\/users\/:id",status_class="2xx",status_code="200"\} 2/)
  t.match(labelledText, /shop_orders_total\{[^}]*method="\(other\)",tenant="\(other\)",series_overflow="true"\} 4/)
  t.match(labelledText, /shop_orders_total\{[^}]*method="\(other\)",tenant="\(other\)"\} 1/)
  t.match((await mongoText()), /^mongodb_server_opcounters_total\{op="insert"\} 1$/m)
  t.match((await apps.shared.inject('/metrics')).body, /^http_requests_timed_out_total 0$/m)

  const prometheus = await startPrometheus(Object.values(targets))
  t.teardown(() => prometheus.close())
  // Three scrapes of every target.
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(250)) {
    const scrapes = await prometheus.query('count_over_time(up[1m])')
    if (scrapes.length === 4 && scrapes.every((series) => Number(series.value[1]) >= 3)) break
  }
  const up = await prometheus.query('min_over_time(up[1m])')
  t.same(Object.fromEntries(up.map((series) => [series.metric.instance, series.value[1]])),
    Object.fromEntries(Object.values(targets).map((target) => [target, '1'])), 'every target up on every scrape')
  // A sample Prometheus drops silently (a duplicate series) is counted in its own metrics.
  const own = await fetch(`${prometheus.base}/metrics`).then((response) => response.text())
  for (const counter of ['prometheus_target_scrapes_sample_duplicate_timestamp_total', 'prometheus_target_scrapes_sample_out_of_order_total']) {
    t.match(own, new RegExp(`^${counter} 0$`, 'm'), `${counter}: nothing dropped`)
  }
  const stored = await prometheus.query('shop_orders_total')
  t.equal(stored.length, 8, 'every custom series of the labelled app stored as its own series')
  t.ok(stored.some((series) => series.metric.method === 'card\u0001' && series.metric.tenant === 'a'), 'a control character in a value survives the scrape')

  // The stock prom-client board answers, from the plain app (its process figures).
  const plain = targets.plain!
  for (const query of STOCK_BOARD_QUERIES) {
    const selected = query.replace(/([a-z_]+)(\[1m\]|\)|$)/, `$1{instance="${plain}"}$2`)
    const result = await prometheus.query(selected)
    t.ok(result.length > 0 && result.every((series) => Number.isFinite(Number(series.value[1]))), `${selected}: ${result.length} series`)
  }
  if (t.passing() === false) t.comment(`Prometheus log tail:\n${prometheus.logs().slice(-3000)}`)
})
