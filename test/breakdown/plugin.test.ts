import diagnostics from 'node:diagnostics_channel'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { Value } from '@sinclair/typebox/value'
import Fastify from 'fastify'
import t from 'tap'
import type { MongoClient } from 'mongodb'
import serverWatch, { type ServerWatchOptions } from '../../lib/plugin.js'
import { HealthSnapshotSchema } from '../../lib/schemas/health.js'
import { buildApp } from '../helpers/app.js'
import { promtool } from '../helpers/prometheus.js'
import { gate, until } from '../helpers/time.js'
import { mongoClient, mongoServer } from './harness.js'

const CHANNELS = ['undici:request:create', 'undici:request:headers', 'undici:request:error', 'http.client.request.start', 'http.client.response.finish', 'http.client.request.error']

/** The hooks of one app route as printRoutes lists them, and what the plugin subscribed to while the app was open. */
async function hooksOf (options: ServerWatchOptions, client: MongoClient): Promise<{ hooks: string, listeners: number[], channels: boolean[] }> {
  const app = Fastify()
  await app.register(serverWatch, options)
  app.get('/route', async () => 'ok')
  await app.ready()
  const printed = app.printRoutes({ includeHooks: true, commonPrefix: false })
  const hooks = printed.slice(printed.indexOf('/route (GET)')).split(/\n(?=\S)/)[0]!
  const figures = { hooks, listeners: listeners(client), channels: CHANNELS.map((name) => diagnostics.hasSubscribers(name)) }
  await app.close()
  return figures
}

const listeners = (client: MongoClient) => ['commandStarted', 'commandSucceeded', 'commandFailed'].map((event) => client.listenerCount(event))

t.test('issue 29: with breakdown off the request path is what it was: the same hooks, no listener, no channel', async (t) => {
  const server = await mongoServer(t)
  const client = await mongoClient(t, server.uri)
  const reference = await hooksOf({ mongo: client }, client)
  t.same(reference.channels, CHANNELS.map(() => false), 'no diagnostics channel subscribed')
  for (const off of [{ breakdown: false }, { breakdown: { database: false, outbound: false } }]) {
    t.same(await hooksOf({ mongo: client, ...off }, client), reference, `${JSON.stringify(off)}: the same hooks, listeners and channels as without the option`)
  }

  const on = await hooksOf({ mongo: client, breakdown: true }, client)
  const expected = reference.hooks.replaceAll('• (onRequest) ["onRequest()"]', '• (onRequest) ["onRequest()","onRequest()"]')
  t.equal(on.hooks, expected, 'on: one more onRequest hook, nothing else (no onResponse hook: it costs every response)')
  t.same(on.listeners, reference.listeners.map((count) => count + 1), 'on: one listener per command event')
  t.same(on.channels, CHANNELS.map(() => true))
  t.same(listeners(client), [0, 0, 0], 'closed: every listener is gone')
  t.same(CHANNELS.map((name) => diagnostics.hasSubscribers(name)), CHANNELS.map(() => false), 'closed: unsubscribed')
})

t.test('issue 29: an invalid breakdown option fails at register, naming its full path', async (t) => {
  for (const [breakdown, message] of [
    [{ nPlusOneCalls: 0 }, '"breakdown.nPlusOneCalls" option must be an integer from 2 to 10000, got 0'],
    [{ outbond: true }, '"breakdown.outbond" option must be one of database, outbound, nPlusOneCalls (unknown option; did you mean "outbound"?), got a boolean'],
    ['on', '"breakdown" option must be a boolean or { database?, outbound?, nPlusOneCalls? }, got "on"']
  ] as const) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(serverWatch, { breakdown: breakdown as never }) }, { code: 'FST_SERVER_WATCH_INVALID_OPTION', message })
    await app.close()
  }
})

t.test('issue 29: the snapshot carries the breakdown per endpoint, in the database and in outbound; valid against its schema; no value in it', async (t) => {
  const SECRET = 'bob.secret@example.com'
  const server = await mongoServer(t)
  const client = await mongoClient(t, server.uri)
  const target = http.createServer((_request, response) => response.end('ok'))
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => target.close(() => resolve())))
  const { port } = target.address() as AddressInfo
  const app = await buildApp({ mongo: client, breakdown: true, sampleIntervalMs: 3_600_000 })
  t.teardown(() => app.close())
  const people = client.db('shop').collection('people')
  app.get('/orders/:id', async () => {
    for (let i = 0; i < 5; i++) await people.findOne({ email: SECRET, i })
    return (await fetch(`http://127.0.0.1:${port}/`)).text()
  })
  await app.ready()
  for (let i = 0; i < 2; i++) t.equal((await app.inject('/orders/1')).statusCode, 200)
  t.equal((await app.inject('/')).statusCode, 200)
  await app.serverWatch.refresh()

  const snapshot = app.serverWatch.snapshot()
  t.ok(Value.Check(HealthSnapshotSchema, snapshot), [...Value.Errors(HealthSnapshotSchema, snapshot)].map((e) => `${e.path}: ${e.message}`).join('; '))
  const orders = snapshot.application.endpoints['GET /orders/:id']!
  t.equal(orders.count, 2)
  t.equal(orders.database!.callsPerRequest, 5)
  t.equal(orders.outbound!.callsPerRequest, 1)
  t.equal(orders.nPlusOne, 2)
  t.ok(orders.database!.share + orders.outbound!.share <= 1)
  t.same(snapshot.application.endpoints['GET /']!.database, { callsPerRequest: 0, timeMsPerRequest: { avg: 0, p95: 0 }, share: 0 })
  if (snapshot.database.status === 'not_configured') throw new Error('watched')
  t.same(snapshot.database.nPlusOne, [{ endpoint: 'GET /orders/:id', shape: '{"find":"people","filter":{"email":"?","i":"?"},"limit":"?","singleBatch":"?"}', callsPerRequest: 5, requests: 2 }])
  t.ok(snapshot.database.slowQueries!.length > 0)
  t.equal(snapshot.outbound!.hosts[`127.0.0.1:${port}`]!.calls, 2)
  t.same(snapshot.database.outsideRequests, { calls: 0, timeMs: 0 }, 'the plugin\'s own ping is not counted')

  const health = await app.inject('/health')
  t.equal(health.statusCode, 200)
  t.notOk(health.body.includes(SECRET), 'no value of a filter in /health')
  t.match(health.json().application.endpoints['GET /orders/:id'], { database: { callsPerRequest: 5 }, nPlusOne: 2 })

  const metrics = (await app.inject('/metrics')).body
  const sample = (name: string, labelText: string) => {
    const line = metrics.split('\n').find((l) => l.startsWith(`${name}${labelText} `))
    return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  const orderLabels = '{method="GET",route="/orders/:id"}'
  t.equal(sample('server_watch_route_database_calls_total', orderLabels), 10)
  t.equal(sample('server_watch_route_outbound_calls_total', orderLabels), 2)
  t.equal(sample('server_watch_route_database_calls_total', '{method="GET",route="/"}'), 0)
  t.equal(sample('server_watch_route_database_calls_total', '{method="*",route="(outside requests)"}'), 0)
  t.equal(sample('server_watch_route_n_plus_one_requests_total', orderLabels), 2)
  t.ok(sample('server_watch_route_database_seconds_total', orderLabels)! > 0)
  t.equal(sample('server_watch_outbound_requests_total', `{server_address="127.0.0.1",server_port="${port}"}`), 2)
  t.equal(sample('server_watch_outbound_errors_total', `{server_address="127.0.0.1",server_port="${port}"}`), 0)
  t.match(metrics, /# TYPE server_watch_route_database_seconds_total counter\n/)
  t.notOk(metrics.includes(SECRET))
  const lint = promtool(metrics)
  t.equal(lint.output, '', 'promtool accepts it')
})

t.test('issue 29: a streamed response counts the queries made while it streams; an aborted request is not folded', async (t) => {
  const server = await mongoServer(t)
  const client = await mongoClient(t, server.uri)
  const app = await buildApp({ mongo: client, breakdown: true, sampleIntervalMs: 3_600_000 })
  t.teardown(() => app.close())
  const items = client.db('shop').collection('items')
  app.get('/stream', async (_request, reply) => {
    let sent = 0
    // Each chunk is read from the database after onSend ran: the response is recorded at its end.
    const body = new Readable({
      read () {
        if (sent++ === 3) return this.push(null)
        items.findOne({ n: sent }).then(() => this.push('chunk\n'), (error: Error) => this.destroy(error))
      }
    })
    return reply.type('text/plain').send(body)
  })
  const entered = gate()
  app.get('/abort', async () => {
    server.setDelay(200)
    const query = items.findOne({ slow: true })
    entered.open()
    await query
    return 'late'
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const response = await fetch(`http://127.0.0.1:${port}/stream`)
  t.equal(await response.text(), 'chunk\n'.repeat(3))
  await until(() => app.serverWatch.snapshot().application.endpoints['GET /stream']?.count === 1, 'the stream to be recorded')
  t.equal(app.serverWatch.snapshot().application.endpoints['GET /stream']!.database!.callsPerRequest, 3)

  const aborted = http.get({ host: '127.0.0.1', port, path: '/abort' })
  aborted.on('error', () => {})
  await entered.promise
  aborted.destroy()
  await until(() => app.serverWatch.snapshot().application.aborted === 1, 'the abort to be counted')
  server.setDelay(0)
  t.equal(app.serverWatch.snapshot().application.endpoints['GET /abort'], undefined, 'neither in the route\'s response times nor in its breakdown')
  await until(() => (app.serverWatch.snapshot().database as { slowQueries?: Array<{ endpoint: string }> }).slowQueries!.some((query) => query.endpoint === 'GET /abort'), 'the aborted request\'s query in the slow queries')
})
