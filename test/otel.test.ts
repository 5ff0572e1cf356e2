import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import {
  AggregationTemporality, DataPointType, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader,
  type DataPoint, type Histogram, type HistogramMetricData, type MetricData
} from '@opentelemetry/sdk-metrics'
import { MongoClient } from 'mongodb'
import { RequestMetrics } from '../lib/requests/store.js'
import { exportOpenTelemetry, exportRequestDurations, METER_NAME } from '../lib/otel/export.js'
import { HTTP_DURATION_BOUNDS } from '../lib/prometheus/buckets.js'
import { buildApp } from './helpers/app.js'
import { startMongoServer } from './helpers/mongo-server.js'

/** A MeterProvider of the real SDK whose reader exports, on flush, to memory. */
function sdk () {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const meterProvider = new MeterProvider({ readers: [reader] })
  return {
    meterProvider,
    /** Collects and exports now: the plugin's metrics, by name. */
    async collect (): Promise<Map<string, MetricData>> {
      await reader.forceFlush()
      const scopes = exporter.getMetrics().at(-1)?.scopeMetrics ?? []
      const ours = scopes.filter((scope) => scope.scope.name === METER_NAME)
      return new Map(ours.flatMap((scope) => scope.metrics).map((metric) => [metric.descriptor.name, metric]))
    },
    shutdown: () => meterProvider.shutdown()
  }
}

/** The one data point of `metric` with exactly these attributes (or, with none given, without attributes). */
function point (metric: MetricData | undefined, attributes: Record<string, unknown> = {}) {
  return metric?.dataPoints.find((data) => JSON.stringify(data.attributes) === JSON.stringify(attributes))
}

/** The same, for a histogram. */
const histogramPoint = (metric: MetricData | undefined, attributes: Record<string, unknown>) =>
  point(metric, attributes) as DataPoint<Histogram> | undefined

t.test('http.server.request.duration: exact counts, sums and bucket counts on the plugin\'s bounds, through the real SDK', async (t) => {
  const otel = sdk()
  t.teardown(otel.shutdown)
  const durations = exportRequestDurations(otel.meterProvider)
  const requests = new RequestMetrics(10, 10, 100, { observer: durations.observer })
  const stopObservables = exportOpenTelemetry(otel.meterProvider, {
    requests,
    sampled: () => ({ eventLoop: { delayMs: { p50: 2, p99: 12.5, max: 40 }, utilization: 0.25 }, cpu: { processPercent: 12.5 }, memory: { process: { rss: 1000, vms: 2000, numThreads: 7 } }, database: { status: 'not_configured' } }) as never
  })
  const users = requests.endpointFor('GET', '/users/:id')
  for (const ms of [0.5, 3, 4.99, 7, 120, 20_000]) requests.record(users, 200, ms)
  requests.record(users, 503, 30)
  requests.record(requests.notFound, 404, 1.5)
  requests.record(requests.endpointFor('PURGE', '/cache'), 204, 2)
  for (let i = 0; i < 3; i++) requests.started()

  const metrics = await otel.collect()
  const duration = metrics.get('http.server.request.duration') as HistogramMetricData
  t.equal(duration.dataPointType, DataPointType.HISTOGRAM)
  t.equal(duration.descriptor.unit, 's')
  const ok = histogramPoint(duration, { 'http.request.method': 'GET', 'http.route': '/users/:id', 'http.response.status_code': 200 })!
  t.same(ok.value.buckets.boundaries, HTTP_DURATION_BOUNDS, 'the plugin\'s Prometheus bounds, through the advice')
  // Bounds 1 2.5 5 10 25 50 100 250 500 1000 2500 5000 10000 ms, +Inf
  t.same(ok.value.buckets.counts, [1, 0, 2, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])
  t.equal(ok.value.count, 6)
  t.ok(Math.abs(ok.value.sum! - 20.13549) < 1e-9, 'the sum in seconds')
  t.equal(ok.value.min, 0.0005)
  t.equal(ok.value.max, 20)
  const failed = histogramPoint(duration, { 'http.request.method': 'GET', 'http.route': '/users/:id', 'http.response.status_code': 503, 'error.type': '503' })!
  t.same(failed.value.buckets.counts, [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0], 'a 5xx carries error.type')
  t.equal(histogramPoint(duration, { 'http.request.method': '_OTHER', 'http.response.status_code': 404 })?.value.count, 1, 'no route matched: no http.route')
  t.equal(histogramPoint(duration, { 'http.request.method': '_OTHER', 'http.route': '/cache', 'http.response.status_code': 204 })?.value.count, 1, 'an unknown method is _OTHER')
  t.equal(duration.dataPoints.length, 4)
  t.equal(requests.total, 9, 'the plugin\'s own figures are recorded as before')
  t.equal(requests.histogram.count, 9)

  t.equal(point(metrics.get('http.server.active_requests'))?.value, 3)
  t.equal(point(metrics.get('nodejs.eventloop.delay.p99'))?.value, 0.0125, 'seconds')
  t.equal(point(metrics.get('nodejs.eventloop.delay.p50'))?.value, 0.002)
  t.equal(point(metrics.get('nodejs.eventloop.delay.max'))?.value, 0.04)
  t.equal(point(metrics.get('nodejs.eventloop.utilization'))?.value, 0.25)
  t.equal(point(metrics.get('process.cpu.utilization'))?.value, 0.125)
  t.equal(point(metrics.get('process.memory.usage'))?.value, 1000)
  t.equal(point(metrics.get('process.memory.virtual'))?.value, 2000)
  t.equal(point(metrics.get('process.thread.count'))?.value, 7)
  t.notOk(metrics.has('db.client.connection.count'), 'no database configured: no pool figures')

  stopObservables()
  durations.stop()
  for (let i = 0; i < 2; i++) requests.started()
  requests.record(users, 200, 1)
  t.equal(requests.total, 10, 'the store still counts after the export stopped')
  const after = await otel.collect()
  t.equal(histogramPoint(after.get('http.server.request.duration'), { 'http.request.method': 'GET', 'http.route': '/users/:id', 'http.response.status_code': 200 })?.value.count, 6,
    'nothing recorded after the export stopped')
  // A cumulative reader keeps the last value it saw: not read again, it stays at 3.
  t.equal(point(after.get('http.server.active_requests'))?.value, 3, 'the batch callback is removed')
})

t.test('openTelemetry end to end: requests through Fastify, process and pool figures, the same buckets as /metrics', async (t) => {
  const otel = sdk()
  const mongo = await startMongoServer()
  const client = new MongoClient(mongo.uri, { monitorCommands: true, serverSelectionTimeoutMS: 1000, heartbeatFrequencyMS: 500 })
  const app = await buildApp({ openTelemetry: { meterProvider: otel.meterProvider }, mongo: client })
  t.teardown(async () => {
    await app.close()
    await client.close()
    await mongo.stop()
    await otel.shutdown()
  })
  await app.ready()
  await client.db('app').collection('items').insertOne({ a: 1 })
  for (let i = 0; i < 5; i++) await app.inject(`/users/${i}`)
  await app.inject('/fail')
  await app.inject({ method: 'POST', url: '/users', payload: { name: 'a' } })
  await app.inject('/nowhere')
  await app.inject('/private')
  await app.inject('/health')
  await app.serverWatch.refresh()

  const metrics = await otel.collect()
  const duration = metrics.get('http.server.request.duration') as HistogramMetricData
  const counts = duration.dataPoints.map((data) => [data.attributes, data.value.count])
  t.same(counts, [
    [{ 'http.request.method': 'GET', 'http.route': '/users/:id', 'http.response.status_code': 200 }, 5],
    [{ 'http.request.method': 'GET', 'http.route': '/fail', 'http.response.status_code': 500, 'error.type': '500' }, 1],
    [{ 'http.request.method': 'POST', 'http.route': '/users', 'http.response.status_code': 201 }, 1],
    [{ 'http.request.method': '_OTHER', 'http.response.status_code': 404 }, 1]
  ], 'every counted request once; opted-out and the plugin\'s own routes not at all')
  const users = histogramPoint(duration, { 'http.request.method': 'GET', 'http.route': '/users/:id', 'http.response.status_code': 200 })!
  t.equal(users.value.buckets.counts.reduce((a, b) => a + b, 0), 5)

  // The same requests in Prometheus's cumulative buckets: OpenTelemetry's per-bucket counts, summed, match.
  const text = (await app.inject('/metrics')).body
  const series = 'method="GET",route="/users/:id",status_class="2xx"'
  let cumulative = 0
  for (const [i, bound] of HTTP_DURATION_BOUNDS.entries()) {
    cumulative += users.value.buckets.counts[i]!
    t.match(text, `http_request_duration_seconds_bucket{${series},le="${bound}"} ${cumulative}\n`, `le=${bound}`)
  }
  const promSum = Number(new RegExp(`http_request_duration_seconds_sum\\{${series.replace(/[/:]/g, '\\$&')}\\} (\\S+)`).exec(text)![1])
  t.ok(Math.abs(users.value.sum! - promSum) < 1e-9, 'the same sum')

  t.equal(point(metrics.get('http.server.active_requests'))?.value, 0)
  const heapUsed = metrics.get('v8js.memory.heap.used')!
  t.ok(point(heapUsed, { 'v8js.heap.space.name': 'old_space' })!.value as number > 0, 'heap by space')
  t.equal(heapUsed.descriptor.unit, 'By')
  const cpuTime = metrics.get('process.cpu.time')!
  t.ok((point(cpuTime, { 'cpu.mode': 'user' })!.value as number) > 0)
  t.ok((point(metrics.get('process.memory.usage'))!.value as number) > 10_000_000, 'rss in bytes')
  const utilization = point(metrics.get('nodejs.eventloop.utilization'))!.value as number
  t.ok(utilization >= 0 && utilization <= 1)
  const { database } = app.serverWatch.snapshot()
  if (database.status === 'not_configured') throw new Error('the mongo option was given: the database is watched')
  const connections = metrics.get('db.client.connection.count')!
  t.equal(point(connections, { 'db.client.connection.state': 'used', 'db.client.connection.pool.name': 'mongodb' })?.value, database.pool.inUse)
  t.equal(point(connections, { 'db.client.connection.state': 'idle', 'db.client.connection.pool.name': 'mongodb' })?.value, database.pool.available)
  t.ok(database.pool.available >= 1, 'the pool has a connection')
  t.equal(point(metrics.get('db.client.connection.pending_requests'), { 'db.client.connection.pool.name': 'mongodb' })?.value, 0)

  // The application's commands, one data point per operation: the insert above, never the plugin's own ping.
  const operations = metrics.get('db.client.operation.duration') as HistogramMetricData
  t.equal(operations.descriptor.unit, 's')
  const insert = histogramPoint(operations, { 'db.system.name': 'mongodb', 'db.operation.name': 'insert', 'db.namespace': 'app' })
  t.equal(insert?.value.count, 1, 'the one insert')
  t.equal(insert?.value.buckets.boundaries.length, HTTP_DURATION_BOUNDS.length, 'on the same bounds')
  t.notOk(operations.dataPoints.some((data) => data.attributes['db.operation.name'] === 'ping' || data.attributes['db.operation.name'] === 'serverStatus'),
    'the plugin\'s own commands are left out')
})

t.test('an invalid openTelemetry option fails at register and names it', async (t) => {
  const attempts: Array<[unknown, string]> = [
    [{}, 'openTelemetry.meterProvider'],
    [{ meterProvider: { getMeter: 'no' } }, 'openTelemetry.meterProvider'],
    ['yes', 'openTelemetry'],
    [{ meterProvider: sdk().meterProvider, exporter: {} }, 'openTelemetry.exporter']
  ]
  for (const [value, name] of attempts) {
    await t.rejects(buildApp({ openTelemetry: value as never }), { code: 'FST_SERVER_WATCH_INVALID_OPTION', message: new RegExp(`^"${name.replace('.', '\\.')}" option`) }, name)
  }
})

t.test('the plugin never imports @opentelemetry: its types are written out and the provider is the user\'s', async (t) => {
  const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [])
  const importing = files('lib').filter((file) => /from ['"]@opentelemetry|import\(['"]@opentelemetry|require\(['"]@opentelemetry/.test(readFileSync(file, 'utf8')))
  t.same(importing, [])
})

t.test('custom metrics go to OpenTelemetry too: counters and gauges observed, histograms in seconds, labels capped', async (t) => {
  const otel = sdk()
  const app = await buildApp({ openTelemetry: { meterProvider: otel.meterProvider } })
  t.teardown(otel.shutdown)
  const placed = app.serverWatch.counter('orders_total', { help: 'Orders placed', labelNames: ['method'], maxSeries: 2 })
  const queue = app.serverWatch.gauge('queue_length')
  const idle = app.serverWatch.gauge('never_set')
  const charge = app.serverWatch.histogram('payment_duration_seconds', { labelNames: ['provider'], maxSeries: 1 })
  await app.ready()
  const late = app.serverWatch.counter('late_total')
  placed.inc(1, { method: 'card' })
  placed.inc(2, { method: 'invoice' })
  placed.inc(4, { method: 'cash' })
  placed.inc()
  queue.set(12)
  late.inc(3)
  for (const ms of [3, 7, 120]) charge.observe(ms, { provider: 'stripe' })
  charge.observe(20_000, { provider: 'adyen' })
  t.ok(idle)

  const metrics = await otel.collect()
  const counter = metrics.get('orders_total')!
  t.equal(counter.descriptor.description, 'Orders placed')
  t.same(counter.dataPoints.map((data) => [data.attributes, data.value]), [
    [{}, 1], [{ method: 'card' }, 1], [{ method: 'invoice' }, 2], [{ method: '(other)', series_overflow: 'true' }, 4]
  ], 'the capped series, as in /metrics')
  t.equal(point(metrics.get('queue_length'))?.value, 12)
  t.equal(metrics.get('never_set')?.dataPoints.length ?? 0, 0, 'a gauge without a value is not observed')
  t.equal(point(metrics.get('late_total'))?.value, 3, 'registered after ready')
  const histogram = metrics.get('payment_duration_seconds') as HistogramMetricData
  t.equal(histogram.descriptor.unit, 's')
  const stripe = histogramPoint(histogram, { provider: 'stripe' })!
  t.same(stripe.value.buckets.counts, [0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0])
  t.ok(Math.abs(stripe.value.sum! - 0.13) < 1e-12)
  t.same(histogramPoint(histogram, { provider: '(other)', series_overflow: 'true' })?.value.buckets.counts, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 'past maxSeries: (other)')
  t.same(app.serverWatch.snapshot().custom.payment_duration_seconds!.values.map((value) => (value as { count: number }).count), [3, 1],
    'the plugin\'s own figures are recorded as before')
  await app.close()
  t.equal(Object.hasOwn(charge, 'observe'), false, 'closing restores the plain observe')
})
