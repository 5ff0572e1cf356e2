import http from 'node:http'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader, type Histogram } from '@opentelemetry/sdk-metrics'
import serverWatch from '../../lib/plugin.js'
import { breakdownApp, mongoClient, mongoServer } from './harness.js'

/** A local HTTP server: `/status/N` answers N, `/slow/MS` after MS milliseconds, anything else 200. */
async function target (t: Test): Promise<{ port: number, host: string, requests: () => number }> {
  let requests = 0
  const server = http.createServer((request, response) => {
    requests++
    const [, kind, value] = request.url!.split('/')
    if (kind === 'status') response.statusCode = Number(value)
    if (kind === 'slow') setTimeout(() => response.end('slow'), Number(value))
    else response.end('ok')
  })
  server.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  t.teardown(() => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }))
  const { port } = server.address() as AddressInfo
  return { port, host: `127.0.0.1:${port}`, requests: () => requests }
}

/** A port nothing listens on. */
async function closedPort (): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

function get (url: string, agent?: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get(url, { agent }, (response) => {
      response.resume()
      response.on('end', () => resolve(response.statusCode!))
    }).on('error', reject)
  })
}

t.test('issue 29: fetch and http.request calls are charged to their routes, with exact counts and hosts', async (t) => {
  const remote = await target(t)
  const refused = await closedPort()
  const base = `http://127.0.0.1:${remote.port}`
  const { app, breakdown } = breakdownApp(t, { options: { database: false } })
  app.get('/fetch', async () => (await fetch(`${base}/a`)).text())
  app.get('/http', async () => [await get(`${base}/b`), await get(`${base}/c`)])
  app.get('/mixed', async () => Promise.all([fetch(`${base}/d`).then((r) => r.text()), get(`${base}/e`), get(`${base}/f`)]))
  app.get('/errors', async () => {
    const statuses = [(await fetch(`${base}/status/503`)).status]
    await fetch(`http://127.0.0.1:${refused}/`).catch(() => statuses.push(-1))
    await get(`http://127.0.0.1:${refused}/`).catch(() => statuses.push(-2))
    return statuses
  })
  app.get('/none', async () => 'nothing')
  await app.ready()
  for (let i = 0; i < 3; i++) {
    for (const url of ['/fetch', '/http', '/mixed', '/none']) t.equal((await app.inject(url)).statusCode, 200)
  }
  t.same((await app.inject('/errors')).json(), [503, -1, -2])
  await fetch(`${base}/outside`).then((response) => response.text()) // a job: no request

  const calls = (key: string) => breakdown.endpoint(key)?.outbound?.callsPerRequest
  t.equal(calls('GET /fetch'), 1)
  t.equal(calls('GET /http'), 2)
  t.equal(calls('GET /mixed'), 3, 'concurrent calls in one request all count')
  t.equal(calls('GET /none'), 0)
  t.equal(calls('GET /errors'), 3)
  for (const key of ['GET /fetch', 'GET /http', 'GET /mixed']) {
    const { outbound, database } = breakdown.endpoint(key)!
    t.equal(database, undefined, 'the database is off')
    t.ok(outbound!.share > 0 && outbound!.share <= 1, `${key}: share ${outbound!.share}`)
  }
  const { hosts, outsideRequests } = breakdown.outbound()!
  t.equal(outsideRequests.calls, 1)
  t.equal(hosts[remote.host]!.calls, 3 * (1 + 2 + 3) + 1 + 1, 'every call to the target, in requests or not')
  t.equal(hosts[remote.host]!.errors, 1, 'the 503')
  t.equal(remote.requests(), hosts[remote.host]!.calls, 'as many as the target received')
  t.same({ ...hosts[`127.0.0.1:${refused}`], p50Ms: undefined, p95Ms: undefined }, { calls: 2, errors: 2, p50Ms: undefined, p95Ms: undefined })
  t.ok(hosts[remote.host]!.p50Ms! > 0 && hosts[remote.host]!.p95Ms! >= hosts[remote.host]!.p50Ms!)
})

t.test('issue 29: requests queued for one agent socket keep their own route', async (t) => {
  const remote = await target(t)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  const base = `http://127.0.0.1:${remote.port}`
  const { app, breakdown } = breakdownApp(t, { options: { database: false } })
  app.get('/one', async () => get(`${base}/slow/2`, agent))
  app.get('/two', async () => [await get(`${base}/slow/2`, agent), await get(`${base}/slow/2`, agent)])
  await app.ready()
  const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => app.inject(i % 2 === 0 ? '/one' : '/two')))
  t.same(responses.map((response) => response.statusCode), new Array(20).fill(200))
  t.equal(breakdown.endpoint('GET /one')!.outbound!.callsPerRequest, 1)
  t.equal(breakdown.endpoint('GET /two')!.outbound!.callsPerRequest, 2)
  t.equal(breakdown.outbound()!.outsideRequests.calls, 0)
})

t.test('issue 29: database and outbound calls at the same time: the shares add up to at most 1', async (t) => {
  const remote = await target(t)
  const server = await mongoServer(t, { delayMs: 50 })
  const client = await mongoClient(t, server.uri)
  const { app, breakdown } = breakdownApp(t, { mongo: client })
  app.get('/together', async () => Promise.all([
    fetch(`http://127.0.0.1:${remote.port}/slow/50`).then((response) => response.text()),
    client.db('test').collection('c').findOne({ x: 1 })
  ]))
  await app.ready()
  for (let i = 0; i < 3; i++) t.equal((await app.inject('/together')).statusCode, 200)
  const { database, outbound } = breakdown.endpoint('GET /together')!
  t.ok(database!.timeMsPerRequest.avg >= 45 && outbound!.timeMsPerRequest.avg >= 45, 'each took its 50 ms')
  t.ok(database!.share > 0 && outbound!.share > 0)
  t.ok(database!.share + outbound!.share <= 1, `${database!.share} + ${outbound!.share} <= 1: the time both ran counts once, half to each`)
})

t.test('issue 29: http.client.request.duration for outbound calls, through the real OpenTelemetry SDK', async (t) => {
  const remote = await target(t)
  const refused = await closedPort()
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
  const meterProvider = new MeterProvider({ readers: [reader] })
  t.teardown(() => meterProvider.shutdown())
  const app = Fastify()
  await app.register(serverWatch, { breakdown: { database: false }, openTelemetry: { meterProvider } })
  app.get('/calls', async () => {
    await (await fetch(`http://127.0.0.1:${remote.port}/a`)).text()
    await get(`http://127.0.0.1:${remote.port}/status/502`)
    await fetch(`http://127.0.0.1:${refused}/`).catch(() => {})
    return 'ok'
  })
  t.teardown(() => app.close())
  t.equal((await app.inject('/calls')).statusCode, 200)
  t.equal((await app.inject('/calls')).statusCode, 200)
  await reader.forceFlush()
  const metric = exporter.getMetrics().at(-1)!.scopeMetrics.flatMap((scope) => scope.metrics)
    .find((m) => m.descriptor.name === 'http.client.request.duration')!
  t.equal(metric.descriptor.unit, 's')
  const points = metric.dataPoints.map((point) => ({ attributes: point.attributes, count: (point.value as Histogram).count }))
  t.same(points.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))), [
    { attributes: { 'http.request.method': 'GET', 'server.address': '127.0.0.1', 'server.port': remote.port, 'http.response.status_code': 200 }, count: 2 },
    { attributes: { 'http.request.method': 'GET', 'server.address': '127.0.0.1', 'server.port': remote.port, 'http.response.status_code': 502, 'error.type': '502' }, count: 2 },
    { attributes: { 'http.request.method': 'GET', 'server.address': '127.0.0.1', 'server.port': refused, 'error.type': '_OTHER' }, count: 2 }
  ].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))))
})
