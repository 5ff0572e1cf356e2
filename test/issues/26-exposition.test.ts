// Issue 26, items 5 to 9 (and the exposition parts of issues 27 and 30): /metrics stays a valid exposition for every
// configuration register accepts; custom metrics have one series per label set and are bounded in total.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import t, { type Test } from 'tap'
import serverWatch from '../../lib/plugin.js'
import { FAMILIES, RESERVED_LABEL_NAMES, formatValue, renderMetrics } from '../../lib/prometheus/index.js'
import { countResources } from '../../lib/collectors/process.js'
import { CustomMetrics } from '../../lib/custom/registry.js'
import { Exposition } from '../../lib/prometheus/text.js'
import { renderCustomMetrics } from '../../lib/custom/prometheus.js'
import { buildApp } from '../helpers/app.js'
import { duplicateSeries, promtool, readOf, samples } from '../helpers/prometheus.js'

const LONG = { sampleIntervalMs: 3_600_000 }
const silent = { warn: () => {} }

function customText (custom: CustomMetrics): string {
  const out = new Exposition()
  renderCustomMetrics(out, custom)
  return out.toString()
}

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'sw-exposition-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

async function refused (t: Test, options: object, message: RegExp, code = 'FST_SERVER_WATCH_INVALID_OPTION'): Promise<void> {
  const error = await buildApp({ ...LONG, ...options }).then(async (app) => { await app.close(); return null }, (error: Error) => error)
  t.match(error, { code, message }, JSON.stringify(options))
}

t.test('issue 26.5: a constant label named "op" or "worker" (or any label a family writes) is refused at register', async (t) => {
  await refused(t, { prometheus: { labels: { op: 'x' } } }, /"prometheus.labels.op" option must be a label name that the plugin's own series do not use/)
  await refused(t, { prometheus: { labels: { worker: 'x' } } }, /"prometheus.labels.worker"/)
  await refused(t, { prometheus: { labels: { status_code: 'x' } } }, /"prometheus.labels.status_code"/)
  await refused(t, { prometheus: { labels: { series_overflow: 'x' } } }, /"prometheus.labels.series_overflow"/)
  // The list is derived from the families: every label any family declares is in it, and nothing else but le, quantile and the overflow mark.
  const declared = new Set(FAMILIES.flatMap((family) => family.labels))
  t.ok(declared.has('op') && declared.has('worker') && declared.has('pid'), 'op, worker and pid are declared by their families')
  t.same([...RESERVED_LABEL_NAMES].filter((name) => !declared.has(name)).sort(), ['le', 'quantile', 'series_overflow'])
  // docs/prometheus.md lists them: the list must be the derived one.
  const docs = readFileSync(new URL('../../docs/prometheus.md', import.meta.url), 'utf8')
  const listed = /The refused names are derived from the families' declarations, not kept by hand: ([^.]+)\./.exec(docs.replaceAll('\n', ' '))?.[1]
  t.same([...(listed ?? '').matchAll(/`([a-z_]+)`/g)].map((match) => match[1]).sort(), [...RESERVED_LABEL_NAMES].sort(), 'docs/prometheus.md lists the reserved names')
})

t.test('issue 26.6: a custom metric\'s label that is also a constant label is refused when the metric is created', async (t) => {
  const app = await buildApp({ ...LONG, prometheus: { labels: { service: 'checkout', env: 'prod' } } })
  t.teardown(() => app.close())
  t.throws(() => app.serverWatch.counter('orders_total', { labelNames: ['service'] }), {
    code: 'FST_SERVER_WATCH_INVALID_METRIC',
    message: /has a label "service", which prometheus.labels already adds to every series/
  })
  app.serverWatch.counter('orders_total', { labelNames: ['method'] }).inc(1, { method: 'card' })
  await app.serverWatch.refresh()
  const text = (await app.inject('/metrics')).body
  t.equal(samples(text, 'orders_total').get('{service="checkout",env="prod",method="card"}'), 1)
})

t.test('issue 26.7: a label set has one key however its values are spelt', async (t) => {
  const custom = new CustomMetrics(silent)
  const c1 = custom.counter('c1', { labelNames: ['m'] })
  c1.inc(5)
  c1.inc(7, { m: '' })
  t.same([...samples(customText(custom), 'c1_total')], [['', 12]], 'a missing label and an empty one are one series')

  const c2 = custom.counter('c2', { labelNames: ['a', 'b'] })
  c2.inc(1, { a: 1, b: true })
  c2.inc(1, { a: '1', b: 'true' })
  c2.inc(1, { a: 'x\u0000', b: 'y' })
  c2.inc(1, { a: 'x', b: '\u0000y' })
  c2.inc(1, { a: 'x\u0001y', b: 'z' })
  c2.inc(1, { a: 'x', b: 'y\u0001z' })
  c2.inc(1, { a: 'x\\', b: '0y' })
  t.same(custom.snapshot().c2!.values.map((value) => (value as { value: number }).value), [2, 1, 1, 1, 1, 1], 'numbers and their strings are one series; control characters never merge two')

  const c3 = custom.counter('c3', { labelNames: ['tenant'], maxSeries: 1 })
  c3.inc(1, { tenant: 'a' })
  c3.inc(1, { tenant: 'b' }) // past maxSeries: the overflow series
  const other = custom.counter('c4', { labelNames: ['tenant'], maxSeries: 2 })
  other.inc(1, { tenant: '(other)' })
  other.inc(1, { tenant: 'x' })
  other.inc(1, { tenant: 'y' }) // past maxSeries
  const text = customText(custom)
  t.same([...samples(text, 'c4_total')], [['{tenant="(other)"}', 1], ['{tenant="x"}', 1], ['{tenant="(other)",series_overflow="true"}', 1]],
    'a real "(other)" and the overflow series are two series')
  t.same(duplicateSeries(text), [], 'no series written twice')
  t.equal(promtool(text).output, '')
})

t.test('issue 26.8: a prefix with ":" is refused; values print as the format spells them, custom metrics included', async (t) => {
  await refused(t, { prometheus: { prefix: 'my:app_' } }, /"prometheus.prefix" option must be a metric name prefix such as "myapp_" .*no ":"/)
  await refused(t, { prometheus: { prefix: '1x' } }, /"prometheus.prefix"/)
  await refused(t, { prometheus: { statusCode: 'yes' } }, /"prometheus.statusCode" option must be a boolean/)
  const custom = new CustomMetrics(silent)
  custom.gauge('g_inf').set(Infinity)
  custom.gauge('g_ninf').set(-Infinity)
  custom.gauge('g_nan').set(NaN)
  custom.gauge('g_float').set(0.1 + 0.2)
  custom.counter('c_float').inc(0.1 + 0.2)
  custom.histogram('h_float').observe(0.1 + 0.2)
  const text = customText(custom)
  t.match(text, /^g_inf \+Inf$/m)
  t.match(text, /^g_ninf -Inf$/m)
  t.match(text, /^g_nan NaN$/m)
  t.match(text, /^g_float 0\.3$/m)
  t.match(text, /^c_float_total 0\.3$/m)
  t.match(text, /^h_float_sum 0\.0003$/m, 'a histogram\'s sum through the same formatter')
  t.notMatch(text, /Infinity|0000000000|9999999999/)
  t.equal(formatValue(Infinity), '+Inf')
})

t.test('issue 26.9: custom metrics are capped in number (coded error) and in series (logged once)', async (t) => {
  const warnings: string[] = []
  const custom = new CustomMetrics({ warn: (_obj, msg) => { warnings.push(msg) } }, { maxMetrics: 3, maxSeries: 4 })
  const a = custom.counter('a', { labelNames: ['k'] })
  const b = custom.histogram('b', { labelNames: ['k'], maxSeries: 2 })
  custom.gauge('c')
  t.throws(() => custom.counter('d'), { code: 'FST_SERVER_WATCH_INVALID_METRIC', message: /at most 3 may be registered \(the maxCustomMetrics option\)/ })
  t.equal(custom.counter('a', { labelNames: ['k'] }), a, 'asking again for one already registered is no new metric')
  for (const k of ['1', '2', '3']) b.observe(1, { k })
  t.equal(warnings.filter((msg) => msg.includes('"b" has 2 series')).length, 1, 'a metric past its maxSeries: logged')
  b.observe(1, { k: '4' })
  t.equal(warnings.filter((msg) => msg.includes('"b" has 2 series')).length, 1, 'and only once')
  for (const k of ['1', '2', '3', '4', '5']) a.inc(1, { k })
  t.equal(custom.seriesCount, 4, 'two series of b and two of a: the budget of 4')
  t.same(custom.snapshot().a!.values.map((value) => [value.labels.k, (value as { value: number }).value]), [['1', 1], ['2', 1], ['(other)', 3]])
  t.equal(warnings.filter((msg) => msg.includes('maxCustomSeries')).length, 1, 'the budget exhausted: logged once')

  await refused(t, { maxCustomMetrics: 0 }, /"maxCustomMetrics" option must be an integer from 1 to 100000/)
  await refused(t, { maxCustomSeries: 1.5 }, /"maxCustomSeries" option must be an integer/)
  const app = await buildApp({ ...LONG, maxCustomMetrics: 1 })
  t.teardown(() => app.close())
  app.serverWatch.counter('one')
  t.throws(() => app.serverWatch.counter('two'), { code: 'FST_SERVER_WATCH_INVALID_METRIC' }, 'the option reaches the registry')
})

t.test('issue 26.9: a custom series unchanged since the last rendering is not written again', async (t) => {
  const custom = new CustomMetrics(silent)
  const h = custom.histogram('h', { labelNames: ['k'] })
  h.observe(3, { k: 'a' })
  h.observe(3, { k: 'b' })
  const first = customText(custom)
  const series = custom.all()[0]!.values()
  const cachedA = series[0]!.rendered!.bytes
  const cachedB = series[1]!.rendered!.bytes
  h.observe(5, { k: 'b' })
  const second = customText(custom)
  t.equal(custom.all()[0]!.values()[0]!.rendered!.bytes, cachedA, 'the idle series keeps its encoded lines')
  t.not(custom.all()[0]!.values()[1]!.rendered!.bytes, cachedB, 'the changed one is encoded again')
  t.not(second, first)
  t.equal(samples(second, 'h_count').get('{k="b"}'), 2, 'the changed one is written again')
})

t.test('issue 27: the renderer only renders: CPU, descriptors, active resources and the lag come from the read model', async (t) => {
  const app = await buildApp(LONG)
  t.teardown(() => app.close())
  await app.ready()
  const runtime = {
    cpuUserSeconds: 1.5,
    cpuSystemSeconds: 0.25,
    openFds: 42,
    maxFds: 1024,
    activeResources: new Map([['TCPServerWrap', 1], ['Timeout', 2]]),
    activeHandles: 1,
    activeRequests: 3,
    eventLoopLagSeconds: 0.0125
  }
  const read = readOf({ snapshot: app.serverWatch.snapshot(), runtime })
  const text = renderMetrics(read)
  t.equal(renderMetrics(read), text, 'two renderings of one read model are the same text')
  t.equal(samples(text, 'process_cpu_user_seconds_total').get(''), 1.5)
  t.equal(samples(text, 'process_cpu_seconds_total').get(''), 1.75)
  t.equal(samples(text, 'process_open_fds').get(''), 42)
  t.equal(samples(text, 'process_max_fds').get(''), 1024)
  t.same([...samples(text, 'nodejs_active_resources')], [['{type="TCPServerWrap"}', 1], ['{type="Timeout"}', 2]])
  t.equal(samples(text, 'nodejs_active_handles_total').get(''), 1)
  t.equal(samples(text, 'nodejs_active_requests_total').get(''), 3)
  t.equal(samples(text, 'nodejs_eventloop_lag_seconds').get(''), 0.0125)
  t.equal(promtool(text).output, '')
})

t.test('issue 30.2: nodejs_active_handles_total counts handles as prom-client does; nodejs_eventloop_lag_seconds is a setImmediate probe', async (t) => {
  const counted = countResources(['FSReqCallback', 'GetAddrInfoReqWrap', 'TCPServerWrap', 'TCPSocketWrap', 'FSEventWrap', 'Timeout', 'Immediate', 'WriteWrap', 'FileHandleCloseReq', 'ProcessWrap'])
  t.equal(counted.handles, 4, 'TCPServerWrap, TCPSocketWrap, FSEventWrap, ProcessWrap: no requests, timers or immediates')
  t.equal(counted.requests, 4, 'FSReqCallback, GetAddrInfoReqWrap, WriteWrap, FileHandleCloseReq')
  t.equal(counted.byType.get('Timeout'), 1)

  const app = await buildApp(LONG)
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  await app.serverWatch.refresh()
  // The probe queued by that sample runs on the loop's next check phase; the next sample's figures carry it.
  await new Promise((resolve) => setImmediate(resolve))
  await app.serverWatch.refresh()
  const text = (await app.inject('/metrics')).body
  // What Node counts through its private API, for this process: the listening server at least.
  const handles = samples(text, 'nodejs_active_handles_total').get('')!
  t.ok(handles >= 1, `the listening socket is a handle (${handles})`)
  const lag = samples(text, 'nodejs_eventloop_lag_seconds').get('')!
  t.ok(lag > 0, `a probe completed: ${lag} s`)
  t.match(text, /^# TYPE nodejs_active_handles_total untyped$/m, 'untyped: a gauge ending in _total fails promtool\'s lint')
  t.equal(promtool(text).output, '')
})

t.test('issue 30.2: prometheus: { statusCode: true } adds status_code to http_request_duration_seconds', async (t) => {
  const app = await buildApp({ ...LONG, prometheus: { statusCode: true } })
  t.teardown(() => app.close())
  await app.inject('/users/1')
  await app.inject('/users/2')
  await app.inject('/teapot')
  await app.inject('/fail')
  await app.inject('/nowhere')
  await app.serverWatch.refresh()
  const text = (await app.inject('/metrics')).body
  const counts = samples(text, 'http_request_duration_seconds_count')
  t.equal(counts.get('{method="GET",route="/users/:id",status_class="2xx",status_code="200"}'), 2)
  t.equal(counts.get('{method="GET",route="/teapot",status_class="4xx",status_code="418"}'), 1)
  t.equal(counts.get('{method="GET",route="/fail",status_class="5xx",status_code="500"}'), 1)
  t.equal(counts.get('{method="*",route="(not found)",status_class="4xx",status_code="404"}'), 1)
  t.equal(counts.size, 4, 'one series per code an endpoint answered with, none by class alone')
  t.equal(samples(text, 'http_requests_total').get('{method="GET",route="/users/:id",status_class="2xx"}'), 2, 'http_requests_total keeps status_class')
  t.equal(promtool(text).output, '')

  const plain = await buildApp(LONG)
  t.teardown(() => plain.close())
  await plain.inject('/users/1')
  await plain.serverWatch.refresh()
  t.notMatch((await plain.inject('/metrics')).body, /status_code/, 'off by default')
})

t.test('issue 27: shared mode with a connectionTimeout exposes http_requests_timed_out_total, as a single process does', async (t) => {
  const dir = tempDir(t)
  const app = Fastify({ connectionTimeout: 1000 })
  await app.register(serverWatch, { ...LONG, shared: { dir } })
  app.get('/', async () => 'ok')
  t.teardown(() => app.close())
  await app.inject('/')
  await app.serverWatch.refresh()
  const text = (await app.inject('/metrics')).body
  t.equal(samples(text, 'server_watch_processes').get(''), 1, 'shared mode')
  t.equal(samples(text, 'http_requests_timed_out_total').get(''), 0)
  t.equal(samples(text, 'process_cpu_seconds_total').size, 0, 'the answering process\'s own families are not written')
  t.equal(samples(text, 'nodejs_eventloop_lag_seconds').size, 0)
  t.equal(promtool(text).output, '')
})

t.test('issue 27: each family declares its scope; shared mode writes the fleet\'s set and a single process its own', async (t) => {
  const app = await buildApp(LONG)
  t.teardown(() => app.close())
  await app.serverWatch.refresh()
  const runtime = {
    cpuUserSeconds: 1,
    cpuSystemSeconds: 1,
    openFds: 1,
    maxFds: 1,
    activeResources: new Map([['TCPServerWrap', 1]]),
    activeHandles: 1,
    activeRequests: 0,
    eventLoopLagSeconds: 0.001
  }
  const gauges = { inFlight: 0, requestsPerSecond: 0, rss: 100, heapUsed: 10, heapTotal: 20, external: 1, cpuProcessPercent: 5, eventLoopDelayP99Ms: 2, eventLoopUtilization: 0.5 }
  const row = { id: 'a', pid: 42, hostname: 'h', workerId: '1', startedAt: '', uptimeSeconds: 1, status: 'healthy' as const, totalRequests: 0, errorCount: 0, requestsPerSecond: 0, p95Ms: null, inFlight: 0, rss: 100, heapUsed: 10, cpuProcessPercent: 5, eventLoopUtilization: 0.5, eventLoopDelayP99Ms: 2, seenAt: '', self: true }
  const { RequestMetrics } = await import('../../lib/requests/store.js')
  const fleet = { at: 0, requests: new RequestMetrics(10, 10, 100), gauges, status: 'healthy' as const, processes: [row], recentErrors: [] }
  const names = (text: string) => new Set([...text.matchAll(/^# TYPE (\S+)/gm)].map((match) => match[1]!))
  const single = names(renderMetrics(readOf({ snapshot: app.serverWatch.snapshot(), runtime })))
  const shared = names(renderMetrics(readOf({ snapshot: app.serverWatch.snapshot(), runtime, fleet })))
  const scoped = (scope: string) => new Set(FAMILIES.filter((family) => family.scope === scope).map((family) => family.name))
  const processOnly = [...scoped('process')].filter((name) => !scoped('fleet').has(name) && !scoped('any').has(name))
  t.ok(processOnly.length > 20, `${processOnly.length} families describe the process only`)
  t.same(processOnly.filter((name) => shared.has(name)), [], 'none of them in shared mode')
  t.same([...scoped('fleet')].filter((name) => single.has(name) && !scoped('process').has(name)), [], 'no fleet family without shared mode')
  t.ok(shared.has('server_watch_process_resident_memory_bytes') && shared.has('server_watch_processes'))
  t.ok(single.has('process_cpu_seconds_total') && single.has('nodejs_eventloop_lag_seconds'))
})
