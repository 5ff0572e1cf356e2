// GET /metrics end to end: the live figures, promtool and a real Prometheus that scrapes the app.
import { existsSync } from 'node:fs'
import t from 'tap'
import { MongoClient } from 'mongodb'
import { CustomMetrics } from '../../lib/custom/registry.js'
import { RequestMetrics } from '../../lib/requests/store.js'
import { PROMETHEUS_CONTENT_TYPE, renderMetrics } from '../../lib/prometheus/index.js'
import Fastify from 'fastify'
import type { HistoryPoint } from '../../lib/schemas/history.js'
import { registerMetrics } from '../../lib/routes/metrics.js'
import serverWatch from '../../lib/plugin.js'
import { buildApp, sleep } from '../helpers/app.js'
import { collectGarbage } from '../helpers/time.js'
import { startMongoServer } from '../helpers/mongo-server.js'
import { PROMETHEUS, PROMTOOL, promtool, readOf, samples, startPrometheus, type Series } from '../helpers/prometheus.js'

/** Locally a missing binary skips the test with a reason; in CI (.ci/run installs them) the test runs and fails. */
function skipWithout (path: string): string | false {
  if (existsSync(path) || process.env.CI) return false
  return `${path} is not installed (apt-get install -y prometheus)`
}

t.test('GET /metrics serves the exposition of the live counters, and promtool accepts it', { skip: skipWithout(PROMTOOL) }, async (t) => {
  if (!existsSync(PROMTOOL)) return t.fail(`${PROMTOOL} is missing in CI`)
  const mongo = await startMongoServer()
  const client = new MongoClient(mongo.uri, { monitorCommands: true, serverSelectionTimeoutMS: 1000, heartbeatFrequencyMS: 500 })
  const app = await buildApp({
    mongo: client,
    maxRoutes: 5,
    checks: { 'cache "hot"': () => true, flaky: { check: () => { throw new Error('down') }, required: false } }
  })
  app.get('/files/:name(^\\d+)', async () => 'file')
  app.get('/extra', async () => 'extra')
  t.teardown(async () => {
    await app.close()
    await client.close()
    await mongo.stop()
  })
  await app.ready()
  await client.db('app').collection('items').insertOne({ a: 1 })
  for (let i = 0; i < 4; i++) await app.inject(`/users/${i}`)
  await app.inject('/fail')
  await app.inject('/teapot')
  await app.inject('/nowhere')
  await app.inject('/files/12')
  await app.inject({ method: 'POST', url: '/users', payload: { name: 'a' } })
  await app.inject('/private')
  await app.inject('/extra') // the sixth route: past maxRoutes
  // Garbage, so that the GC observer has seen collections of some kind: observers are told a turn or so after a
  // collection, so this waits until one of our own has been.
  await collectGarbage()
  await app.serverWatch.refresh()

  const response = await app.inject('/metrics')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['content-type'], PROMETHEUS_CONTENT_TYPE)
  t.equal(response.headers['cache-control'], 'no-store')
  const text = response.body
  const requests = samples(text, 'http_requests_total')
  t.equal(requests.get('{method="GET",route="/users/:id",status_class="2xx"}'), 4)
  t.equal(requests.get('{method="GET",route="/fail",status_class="5xx"}'), 1)
  t.equal(requests.get('{method="GET",route="/teapot",status_class="4xx"}'), 1)
  t.equal(requests.get('{method="POST",route="/users",status_class="2xx"}'), 1)
  t.equal(requests.get('{method="*",route="(not found)",status_class="4xx"}'), 1)
  t.equal(requests.get('{method="GET",route="/files/:name(^\\\\d+)",status_class="2xx"}'), 1, 'a backslash in a route is escaped')
  t.equal(requests.get('{method="*",route="(other routes)",status_class="2xx"}'), 1, 'routes past maxRoutes share the overflow series')
  t.notOk([...requests.keys()].some((key) => /private|metrics|health/.test(key)), 'opted-out and own routes are not counted')
  t.equal([...requests.values()].reduce((a, b) => a + b, 0), 10)

  t.equal(samples(text, 'server_watch_health_status').get('{status="degraded"}'), 1, 'an optional check fails')
  t.equal(samples(text, 'server_watch_health_status').get('{status="healthy"}'), 0)
  t.equal(samples(text, 'server_watch_check_status').get('{check="cache \\"hot\\"",status="pass"}'), 1)
  t.equal(samples(text, 'server_watch_check_status').get('{check="flaky",status="fail"}'), 1)
  t.match(text, /^server_watch_info\{version="\d+\.\d+\.\d+",fastify_version="5\.[^"]+"\} 1$/m)
  t.ok(samples(text, 'process_resident_memory_bytes').get('')! > 10_000_000)
  t.ok(samples(text, 'process_cpu_seconds_total').get('')! > 0)
  t.ok(samples(text, 'nodejs_heap_space_size_used_bytes').get('{space="old"}')! > 0, 'every heap space')
  t.ok(samples(text, 'system_memory_total_bytes').get('')! > samples(text, 'system_memory_available_bytes').get('')!)
  const utilization = samples(text, 'nodejs_eventloop_utilization_ratio').get('')!
  t.ok(utilization >= 0 && utilization <= 1)
  t.ok([...samples(text, 'nodejs_gc_duration_seconds_count').values()].reduce((a, b) => a + b, 0) > 0, 'GCs counted')
  t.equal(samples(text, 'mongodb_client_up').get(''), 1)
  t.ok(samples(text, 'mongodb_client_pool_checkouts_total').get('')! >= 1)
  t.equal(samples(text, 'mongodb_client_command_duration_seconds_count').get('{command="insert"}'), 1)
  t.ok(samples(text, 'mongodb_client_command_duration_seconds').get('{command="insert",quantile="0.5"}')! > 0)
  t.ok(samples(text, 'mongodb_server_opcounters_total').has('{op="insert"}'), 'serverStatus figures')

  const lint = promtool(text)
  t.equal(lint.output, '', 'no promtool problems')
  t.equal(lint.status, 0)
  t.equal(promtool('# TYPE broken counter\nbroken 1\n').status, 3, 'promtool does fail on a bad exposition')

  const head = await app.inject({ method: 'HEAD', url: '/metrics' })
  t.equal(head.statusCode, 200)
  t.equal(head.body, '')
})

t.test('figures the platform cannot provide are left out, not reported as 0', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  await app.ready()
  const snapshot = structuredClone(app.serverWatch.snapshot())
  Object.assign(snapshot.memory.process, { vms: null, numThreads: null, openFiles: null, connections: null })
  const system = snapshot.memory.system
  for (const key of Object.keys(system) as Array<keyof typeof system>) if (key !== 'swap') (system as Record<string, unknown>)[key] = null
  system.swap = { total: null, used: null, free: null, percent: null, sin: null, sout: null }
  Object.assign(snapshot.cpu, { systemPercent: null, loadAverage: null })
  snapshot.eventLoop = { delayMs: { p50: null, p99: null, max: null }, utilization: null }
  snapshot.checks = { warming: { status: 'pending', required: true, durationMs: null, lastCheckedAt: null } }
  snapshot.database = { status: 'unhealthy', required: true, error: 'not checked yet', pingMs: null } as typeof snapshot.database
  const text = renderMetrics(readOf({ snapshot }))
  for (const name of [
    'process_virtual_memory_bytes', 'process_threads', 'process_open_files', 'system_memory_', 'system_swap_',
    'system_cpu_utilization_ratio', 'system_load1', 'nodejs_eventloop_', 'server_watch_check_duration_seconds',
    'mongodb_client_ping_seconds', 'mongodb_client_pool', 'mongodb_client_command', 'mongodb_server_',
    'http_requests_total', 'http_request_duration_seconds', 'http_responses_by_code_total', 'nodejs_gc_'
  ]) {
    t.notMatch(text, new RegExp(`^(# TYPE )?${name}`, 'm'), `no ${name}`)
  }
  t.equal(samples(text, 'mongodb_client_up').get(''), 0, 'a database that does not answer is down, not absent')
  t.equal(samples(text, 'server_watch_check_status').get('{check="warming",status="pending"}'), 1)
  t.equal(samples(text, 'http_requests_in_flight').get(''), 0, 'a counter at zero is still a zero')
  if (existsSync(PROMTOOL)) t.equal(promtool(text).output, '')
})

t.test('concurrent scrapes cost one rendering: /metrics is rendered at most once per sample and served from it until the next', async (t) => {
  const source = await buildApp({ metricsPath: false })
  t.teardown(() => source.close())
  await source.ready()
  const requests = new RequestMetrics(10, 10, 100)
  const users = requests.endpointFor('GET', '/users/:id')
  requests.record(users, 200, 3)
  let renders = 0
  const listeners = new Set<(point: HistoryPoint) => void>()
  const app = Fastify()
  t.teardown(() => app.close())
  registerMetrics(app, {
    watch: {
      requests,
      sampled: () => { renders++; return source.serverWatch.snapshot() },
      alertsView: () => source.serverWatch.alerts(),
      custom: new CustomMetrics(source.log),
      onSample (listener) {
        listeners.add(listener)
        return () => { listeners.delete(listener) }
      }
    },
    metricsPath: '/metrics',
    access: { hook: (_request, _reply, done) => done() }
  })
  await app.ready()
  const count = async () => samples((await app.inject('/metrics')).body, 'http_requests_total').get('{method="GET",route="/users/:id",status_class="2xx"}')
  const first = await Promise.all(Array.from({ length: 10 }, () => app.inject('/metrics')))
  t.equal(renders, 1, 'ten concurrent scrapes, one rendering')
  t.equal(new Set(first.map((response) => response.body)).size, 1, 'all got the same text')
  requests.record(users, 200, 3)
  t.equal(await count(), 1, 'until the next sample, the same text')
  t.equal(renders, 1)
  for (const listener of listeners) listener({ timestamp: 1, values: {} as HistoryPoint['values'] })
  t.equal(renders, 1, 'nothing is rendered for a sample that nobody scrapes')
  t.equal(await count(), 2, 'after a sample, the counters as they are now')
  t.equal(renders, 2)
  await app.close()
  t.equal(listeners.size, 0, 'unsubscribed on close')
})

t.test('a real Prometheus scrapes the running app and its query API returns our request counter', {
  skip: skipWithout(PROMETHEUS),
  timeout: 60_000
}, async (t) => {
  if (!existsSync(PROMETHEUS)) return t.fail(`${PROMETHEUS} is missing in CI`)
  const app = await buildApp()
  await app.listen({ host: '127.0.0.1', port: 0 })
  const appAddress = app.server.address() as { port: number }
  const prometheus = await startPrometheus([`127.0.0.1:${appAddress.port}`])
  t.teardown(async () => {
    await prometheus.close()
    await app.close()
  })

  const requests = 7
  for (let i = 0; i < requests; i++) {
    const response = await fetch(`http://127.0.0.1:${appAddress.port}/users/${i}`)
    t.equal(response.status, 200)
  }
  const deadline = Date.now() + 30_000
  let result: Series[] = []
  while (Date.now() < deadline) {
    result = await prometheus.query('http_requests_total{route="/users/:id"}')
    if (result.length === 1 && Number(result[0]!.value[1]) === requests) break
    await sleep(250)
  }
  if (result.length !== 1) t.comment(`Prometheus log tail:\n${prometheus.logs().slice(-2000)}`)
  t.equal(result.length, 1, 'one series')
  t.equal(Number(result[0]?.value[1]), requests, 'the counter Prometheus stored')
  t.match(result[0]?.metric, { __name__: 'http_requests_total', job: 'app', method: 'GET', route: '/users/:id', status_class: '2xx' })
  const up = await prometheus.query('up{job="app"}')
  t.equal(up[0]?.value[1], '1', 'the target is up')
  const healthy = await prometheus.query('server_watch_health_status{status="healthy"}')
  t.equal(healthy[0]?.value[1], '1')
  const buckets = await prometheus.query('http_request_duration_seconds_bucket{route="/users/:id",le="+Inf"}')
  t.equal(Number(buckets[0]?.value[1]), requests, 'the histogram is stored too')
})

t.test('prometheus: { prefix, labels } puts a prefix on every name and the constant labels on every series', { skip: skipWithout(PROMTOOL) }, async (t) => {
  const app = await buildApp({ prometheus: { prefix: 'shop_', labels: { service: 'checkout', env: 'prod "eu"\\1' } } })
  t.teardown(() => app.close())
  await app.ready()
  app.serverWatch.counter('orders_total').inc()
  await app.inject('/users/1')
  await app.inject('/fail')
  await app.serverWatch.refresh()
  const text = (await app.inject('/metrics')).body
  const constant = 'service="checkout",env="prod \\"eu\\"\\\\1"'
  let series = 0
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('#')) {
      t.match(line, /^# (HELP|TYPE) shop_/, line)
      continue
    }
    series++
    t.ok(line.startsWith('shop_'), line)
    t.ok(line.includes(`{${constant}`), line)
  }
  t.ok(series > 50, `${series} series, every one relabelled`)
  t.equal(samples(text, 'shop_http_requests_total').get(`{${constant},method="GET",route="/users/:id",status_class="2xx"}`), 1)
  t.equal(samples(text, 'shop_orders_total').get(`{${constant}}`), 1, 'custom metrics too')
  t.equal(promtool(text).output, '', 'promtool accepts it')

  for (const [prometheus, message] of <Array<[unknown, RegExp]>>[
    [{ prefix: '1x' }, /"prometheus.prefix" option must be a metric name prefix/],
    [{ labels: { route: 'x' } }, /"prometheus.labels.route" option must be a label name that the plugin's own series do not use/],
    [{ labels: { __x: 'x' } }, /"prometheus.labels.__x"/],
    [{ labels: { env: 1 } }, /"prometheus.labels.env" option must be a string/],
    [{ prefx: 'a_' }, /"prometheus.prefx" option must be one of prefix, labels, statusCode \(unknown option; did you mean "prefix"\?\)/]
  ]) {
    const error = await buildApp({ prometheus } as never).then(() => null, (error: Error) => error)
    t.match(error, { code: 'FST_SERVER_WATCH_INVALID_OPTION', message }, JSON.stringify(prometheus))
  }
})

t.test('issue 16: no series that is always 0: http_requests_timed_out_total only when a connectionTimeout lets requests time out', async (t) => {
  const scrape = async (app: ReturnType<typeof Fastify>) => {
    await app.register(serverWatch)
    t.teardown(() => app.close())
    return (await app.inject('/metrics')).body
  }
  t.notMatch(await scrape(Fastify()), /http_requests_timed_out_total/)
  t.match(await scrape(Fastify({ connectionTimeout: 1000 })), /^http_requests_timed_out_total 0$/m)
})
