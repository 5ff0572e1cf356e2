import { EventEmitter } from 'node:events'
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import { Value } from '@sinclair/typebox/value'
import { Long, MongoClient, type MongoClientOptions } from 'mongodb'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { buildApp, sleep } from '../helpers/app.js'
import { until } from '../helpers/time.js'
import { startMongoServer, type TestMongoServer } from '../helpers/mongo-server.js'
import {
  createMongoCollector, DEFAULT_SERVER_STATUS_INTERVAL_MS, MAX_COMMAND_NAMES, OTHER_COMMANDS, OWN_COMMAND_COMMENT
} from '../../lib/collectors/mongo/index.js'
import { DatabaseSchema, type WatchedDatabaseSnapshot } from '../../lib/schemas/database.js'
import { HealthSnapshotSchema } from '../../lib/schemas/health.js'
import type { ServerWatchOptions } from '../../lib/plugin.js'

const CHECK_TIMEOUT_MS = 300
const CLIENT_OPTIONS: MongoClientOptions = {
  monitorCommands: true,
  serverSelectionTimeoutMS: 1000,
  connectTimeoutMS: 1000,
  heartbeatFrequencyMS: 500
}
const EVENTS = [
  'commandStarted', 'commandSucceeded', 'commandFailed', 'connectionCreated', 'connectionClosed',
  'connectionCheckOutStarted', 'connectionCheckedOut', 'connectionCheckOutFailed', 'connectionCheckedIn',
  'connectionPoolCleared', 'connectionPoolClosed', 'topologyOpening', 'topologyClosed', 'topologyDescriptionChanged',
  'serverHeartbeatSucceeded', 'serverHeartbeatFailed'
] as const
const MIB = 1024 * 1024

const silentLog = { info () {}, warn () {}, error () {}, debug () {} } as unknown as FastifyBaseLogger

async function mongoServer (test: Test, opts?: Parameters<typeof startMongoServer>[0]): Promise<TestMongoServer> {
  const server = await startMongoServer(opts)
  test.teardown(() => server.stop())
  return server
}

function mongoClient (test: Test, uri: string, options: MongoClientOptions = {}): MongoClient {
  const client = new MongoClient(uri, { ...CLIENT_OPTIONS, ...options })
  test.teardown(() => client.close())
  return client
}

async function watchedApp (test: Test, mongo: ServerWatchOptions['mongo'], options: ServerWatchOptions = {}, logLines?: string[]) {
  const logger = logLines === undefined
    ? false
    : { level: 'info', stream: new Writable({ write (chunk, _encoding, done) { logLines.push(String(chunk)); done() } }) }
  const app = await buildApp({ mongo, checkTimeoutMs: CHECK_TIMEOUT_MS, ...options }, { logger })
  app.get('/items', async () => [])
  test.teardown(() => app.close())
  await app.ready()
  return app
}

async function database (app: FastifyInstance): Promise<WatchedDatabaseSnapshot> {
  // refresh() shares a sample the loop may have started before the caller's commands: the second one starts after.
  await app.serverWatch.refresh()
  await app.serverWatch.refresh()
  const db = app.serverWatch.snapshot().database
  if (db.status === 'not_configured') throw new Error('the mongo option was given: the database is watched')
  return db
}

/** Why the ping failed; undefined while the database is healthy (the union on `status` has it on `unhealthy` only). */
function errorOf (db: WatchedDatabaseSnapshot): string | undefined {
  return db.status === 'unhealthy' ? db.error : undefined
}

/**
 * Samples until `predicate` holds (the driver notices a server going or coming back on its own schedule), then
 * returns that database snapshot. The limit only turns a hang into a message: it is no bound on speed.
 */
async function waitFor (app: FastifyInstance, predicate: (db: WatchedDatabaseSnapshot) => boolean, limitMs = 30_000) {
  const started = performance.now()
  for (;;) {
    const db = await database(app)
    if (predicate(db)) return { db }
    if (performance.now() - started > limitMs) throw new Error(`condition not met in ${limitMs} ms: ${JSON.stringify(db)}`)
    await sleep(20)
  }
}

const targets = [{ name: 'the wire-protocol test server', uri: null as string | null }]
if (process.env.MONGODB_URI) targets.push({ name: 'MONGODB_URI', uri: process.env.MONGODB_URI })

for (const target of targets) {
  t.test(`healthy: ping, topology, pool and the app's commands (${target.name})`, async (t) => {
    const server = target.uri === null ? await mongoServer(t) : null
    const client = mongoClient(t, target.uri ?? server!.uri)
    const app = await watchedApp(t, client)
    const collection = client.db('server_watch_test').collection(`probe_${process.pid}`)

    await collection.find({ never: 'matches' }).toArray()
    await client.db('admin').command({ ping: 1 }) // the application's own ping counts; the collector's do not
    const sampling = Date.parse(new Date().toISOString()) // to the millisecond, like lastCheckedAt
    for (let i = 0; i < 3; i++) await app.serverWatch.refresh() // a few samples, each with its own ping
    const db = await database(app)

    t.ok(Value.Check(DatabaseSchema, db), 'the database snapshot matches its schema')
    t.ok(Value.Check(HealthSnapshotSchema, app.serverWatch.snapshot()), 'the whole snapshot matches its schema')
    t.equal(db.status, 'healthy')
    t.equal(db.required, true)
    t.equal(errorOf(db), undefined)
    t.type(db.pingMs, 'number')
    t.ok(db.pingMs! >= 0 && db.pingMs! < CHECK_TIMEOUT_MS, `pingMs ${db.pingMs} is a real duration`)
    t.ok(Date.parse(db.lastCheckedAt!) >= sampling, 'lastCheckedAt is the time of a sample taken since')

    t.equal(db.commands!.monitored, true)
    t.equal(db.commands!.byName.find!.count, 1, 'one find')
    t.equal(db.commands!.byName.find!.failures, 0)
    t.type(db.commands!.byName.find!.p95, 'number')
    t.equal(db.commands!.byName.ping!.count, 1, 'only the application\'s ping is counted')
    if (server !== null) t.equal(db.commands!.total, 2)
    else t.ok(db.commands!.total! >= 2, 'a real server may add authentication commands')
    t.equal(db.commands!.failures, 0)
    t.ok(db.commands!.latencyMs.p99! >= db.commands!.latencyMs.p50!, 'percentiles are ordered')

    t.ok(db.pool!.open >= 1, `open connections: ${db.pool!.open}`)
    t.equal(db.pool!.inUse, 0, 'nothing checked out between samples')
    t.equal(db.pool!.waiting, 0)
    t.ok(db.pool!.checkouts >= 2, 'the app\'s commands were checked out')
    t.equal(db.pool!.checkoutFailures, 0)
    t.type(db.pool!.checkoutWaitMs.p50, 'number', 'the driver reports checkout durations')

    const topology = db.topology!
    t.equal(topology.closed, false)
    t.not(topology.type, 'Unknown')
    t.ok(topology.servers.length >= 1)
    t.ok(topology.servers.every((s) => s.state === 'connected' && s.type !== 'Unknown'), 'every server is connected')
    t.type(topology.lastChangeAt, 'string')
    if (server !== null) {
      t.equal(topology.type, 'Single')
      t.equal(topology.servers[0]!.type, 'Standalone')
      t.type(topology.heartbeatMs, 'number', 'polling heartbeats are not awaited: their round trip is kept')
      t.equal(db.serverStatus!.available, true)
      t.equal(db.serverStatus!.version, '7.0.0')
      t.equal(db.serverStatus!.residentMemory, 42 * MIB, 'mem.resident is MiB, reported in bytes')
      t.equal(db.serverStatus!.connections!.available, 800)
      t.equal(db.serverStatus!.uptimeSeconds, 60)
      t.equal(server.received.get('serverStatus'), 1, 'serverStatus runs on its own slower cadence')
    } else {
      t.type(db.serverStatus!.available, 'boolean')
    }

    const health = await app.inject('/health')
    t.equal(health.statusCode, 200)
    t.equal(health.json().database.status, 'healthy')
  })
}

t.test('without monitorCommands the snapshot says so instead of showing zeros', async (t) => {
  const server = await mongoServer(t)
  const client = mongoClient(t, server.uri, { monitorCommands: false })
  const app = await watchedApp(t, client)
  await client.db('test').collection('c').find({}).toArray()
  const db = await database(app)
  t.equal(db.status, 'healthy')
  t.same(db.commands, {
    monitored: false,
    total: null,
    failures: null,
    averageMs: null,
    latencyMs: { p50: null, p95: null, p99: null, max: null },
    recentP95Ms: null,
    byName: {}
  })
  t.ok(db.pool!.checkouts >= 1, 'pool events need no monitorCommands')
})

t.test('the server stops: unhealthy, 503, then healthy when it returns', async (t) => {
  const server = await mongoServer(t)
  const client = mongoClient(t, server.uri)
  const app = await watchedApp(t, client)
  t.equal((await waitFor(app, (db) => db.status === 'healthy')).db.status, 'healthy')

  const health0 = await app.inject('/health')
  t.equal(health0.statusCode, 200)

  await server.stop()
  const down = await waitFor(app, (db) => db.status === 'unhealthy')
  t.equal(down.db.pingMs, null)
  t.type(errorOf(down.db), 'string')
  t.ok(errorOf(down.db)!.length > 0 && errorOf(down.db)!.length <= 200, `error: ${errorOf(down.db)}`)
  const health = await app.inject('/health')
  t.equal(health.statusCode, 503)
  t.equal(health.json().status, 'unhealthy')
  // issue 17: the served JSON is one variant of the union on status, with every figure and the error.
  t.ok(Value.Check(DatabaseSchema, health.json().database), 'an unhealthy database matches its schema')
  t.same(Object.keys(health.json().database).sort(),
    ['commands', 'error', 'lastCheckedAt', 'pingMs', 'pool', 'required', 'serverStatus', 'status', 'topology'])

  const unreachable = await waitFor(app, (db) => db.topology!.servers[0]?.state === 'unreachable')
  t.equal(unreachable.db.topology!.servers[0]!.type, 'Unknown')
  t.type(unreachable.db.topology!.servers[0]!.error, 'string')
  t.ok(unreachable.db.topology!.heartbeatFailures >= 1, 'a heartbeat failed')

  await server.restart()
  const up = await waitFor(app, (db) => db.status === 'healthy')
  t.equal(errorOf(up.db), undefined)
  t.type(up.db.pingMs, 'number')
  t.ok(up.db.pool!.cleared >= 1, 'the driver cleared the pool when the server went away')
  t.equal(up.db.topology!.servers[0]!.state, 'connected')
  t.equal((await app.inject('/health')).statusCode, 200)
})

t.test('an optional database that is down makes the app degraded, not unhealthy', async (t) => {
  const server = await mongoServer(t)
  const client = mongoClient(t, server.uri)
  const app = await watchedApp(t, { client, required: false })
  await server.stop()
  const { db } = await waitFor(app, (db) => db.status === 'unhealthy')
  t.equal(db.required, false)
  const health = await app.inject('/health')
  t.equal(health.statusCode, 200)
  t.equal(health.json().status, 'degraded')
})

t.test('a server that accepts connections and never replies: unhealthy at the first sample, /health never waits for it', async (t) => {
  const server = await mongoServer(t)
  const client = mongoClient(t, server.uri)
  const app = await watchedApp(t, client)
  await waitFor(app, (db) => db.status === 'healthy')

  t.equal((await app.inject('/health')).statusCode, 200) // the first request to a route compiles its serializer

  server.setMode('blackhole')
  // The ping of the very next sample goes unanswered: that sample ends at the ping's timeout.
  const down = await database(app)
  t.equal(down.status, 'unhealthy')
  t.match(errorOf(down), /timed out after 300 ms/)

  let sampled = false
  const sampling = app.serverWatch.refresh().then(() => { sampled = true })
  const health = await app.inject('/health')
  t.equal(health.statusCode, 503)
  t.equal(sampled, false, '/health answered from the last sample while this one waits on the database')
  await sampling

  server.setMode('normal')
  const up = await waitFor(app, (db) => db.status === 'healthy')
  t.type(up.db.pingMs, 'number')
  t.equal(up.db.commands!.total, 0, 'the aborted pings were the collector\'s own: not in the app\'s stats')
})

t.test('command failures are counted per command name', async (t) => {
  const server = await mongoServer(t)
  const client = mongoClient(t, server.uri)
  const app = await watchedApp(t, client)
  const collection = client.db('test').collection('items')
  server.failCommand('find', { times: 2, code: 2, codeName: 'BadValue', errmsg: 'find refused' })
  for (let i = 0; i < 3; i++) await collection.find({}).toArray().catch(() => null)
  await collection.insertOne({ n: 1 })
  const db = await database(app)
  t.same(
    { count: db.commands!.byName.find!.count, failures: db.commands!.byName.find!.failures },
    { count: 3, failures: 2 }
  )
  t.equal(db.commands!.byName.insert!.count, 1)
  t.equal(db.commands!.byName.insert!.failures, 0)
  t.equal(db.commands!.total, 4)
  t.equal(db.commands!.failures, 2)
  t.equal(db.status, 'healthy', 'a failing application command is not a failing database')
})

t.test('pool events: open, in use, waiting, checkout wait and failures', async (t) => {
  const server = await mongoServer(t)
  const client = mongoClient(t, server.uri, { maxPoolSize: 1, waitQueueTimeoutMS: 400 })
  await client.db('admin').command({ ping: 1 }) // connected before it is watched
  // A short ping bound, so that a sample ends while the application's commands are still queued.
  const collector = createMongoCollector(client, { timeoutMs: 50, required: true, serverStatusIntervalMs: 60_000, log: silentLog })
  t.teardown(() => collector.close())
  const collection = client.db('test').collection('items')

  server.setDelay(150)
  // Replies take 150 ms and one connection serves them in turn: the fourth find would wait 450 ms, past
  // waitQueueTimeoutMS, and its check-out fails.
  let checkOuts = 0
  client.on('connectionCheckOutStarted', () => { checkOuts++ })
  const queries = [1, 2, 3, 4].map(() => collection.find({}).toArray().then(() => 'answered', (error: Error) => error.name))
  await until(() => checkOuts === 4, 'the four finds to ask for the connection')
  await collector.sample() // its ping waits in the queue too, and gives up after 50 ms
  const busy = collector.read().pool!
  t.equal(busy.inUse, 1, 'one connection checked out')
  // Three finds, and the ping abandoned at its deadline: the driver reports no end for an aborted check-out, so
  // it counts until a later check-out ends (the wait queue is first in, first out).
  t.equal(busy.waiting, 4, 'three finds and the abandoned ping waiting for it')
  t.equal(busy.open, 1)
  t.equal(collector.read().status, 'unhealthy', 'the ping could not get a connection in time')

  t.same(await Promise.all(queries), ['answered', 'answered', 'answered', 'MongoWaitQueueTimeoutError'])
  server.setDelay(0)
  await collector.sample()
  const pool = collector.read().pool!
  t.equal(collector.read().status, 'healthy')
  t.equal(pool.inUse, 0)
  t.equal(pool.waiting, 0)
  t.equal(pool.open, 1, 'maxPoolSize 1')
  t.equal(pool.checkouts, 4, 'three finds and the last ping')
  t.equal(pool.checkoutFailures, 1, 'the fourth find; the abandoned ping is reported by no event')
  t.ok(pool.checkoutWaitMs.max! >= 250, `the third query waited for two others: max ${pool.checkoutWaitMs.max} ms`)
  t.ok(pool.checkoutWaitMs.p50! <= pool.checkoutWaitMs.max!)
})

t.test('serverStatus unauthorised: null figures, logged once, database still healthy', async (t) => {
  const server = await mongoServer(t, { serverStatus: 'unauthorized' })
  const client = mongoClient(t, server.uri)
  const logLines: string[] = []
  const app = await watchedApp(t, { client, serverStatusIntervalMs: CHECK_TIMEOUT_MS }, {}, logLines)
  await waitFor(app, () => (server.received.get('serverStatus') ?? 0) >= 3)
  const db = await database(app)
  t.equal(db.status, 'healthy')
  t.match(db.serverStatus, {
    available: false,
    error: /not authorized/,
    sampledAt: null,
    connections: null,
    opcounters: null,
    opcountersPerSecond: null,
    residentMemory: null
  })
  t.equal(logLines.filter((line) => line.includes('serverStatus')).length, 1, 'logged once for three refusals')
  t.notOk(db.commands!.byName.serverStatus, 'the collector\'s serverStatus is not an application command')

  server.setServerStatus('allow')
  const { db: allowed } = await waitFor(app, (db) => db.serverStatus!.available === true)
  t.equal(allowed.serverStatus!.error, undefined)
  t.equal(allowed.serverStatus!.residentMemory, 42 * MIB)
})

t.test('serverStatus opcounters per second between two readings', async (t) => {
  const server = await mongoServer(t)
  const client = mongoClient(t, server.uri)
  const app = await watchedApp(t, { client, serverStatusIntervalMs: CHECK_TIMEOUT_MS })
  await waitFor(app, (db) => db.serverStatus!.available === true)
  await client.db('test').collection('items').insertMany([{ a: 1 }, { a: 2 }])
  await client.db('test').collection('items').insertOne({ a: 3 })
  const { db } = await waitFor(app, (db) => (db.serverStatus!.opcounters?.insert ?? 0) === 2)
  t.ok(db.serverStatus!.opcountersPerSecond!.insert > 0, `inserts/s: ${db.serverStatus!.opcountersPerSecond!.insert}`)
  t.equal(db.serverStatus!.opcountersPerSecond!.update, 0)
})

t.test('app.close() removes every listener and leaves the client open', async (t) => {
  const server = await mongoServer(t)
  const client = mongoClient(t, server.uri)
  await client.connect()
  const before = EVENTS.map((name) => client.listenerCount(name))
  const app = await buildApp({ mongo: client, checkTimeoutMs: CHECK_TIMEOUT_MS })
  await app.ready()
  const during = EVENTS.map((name) => client.listenerCount(name))
  t.ok(during.every((count, i) => count === before[i]! + 1), 'one listener per event while watched')
  const db = await database(app)
  t.equal(db.topology!.type, 'Single', 'a client connected before it was watched shows its topology at once')

  await app.close()
  t.same(EVENTS.map((name) => client.listenerCount(name)), before, 'every listener removed')
  const doc = await client.db('admin').command({ ping: 1 })
  t.equal(doc.ok, 1, 'the client still works after app.close()')
})

t.test('a client the application closes is reported closed and not reconnected', async (t) => {
  const server = await mongoServer(t)
  const client = mongoClient(t, server.uri)
  const app = await watchedApp(t, client)
  await waitFor(app, (db) => db.status === 'healthy')
  const handshakes = server.received.get('ismaster') ?? 0
  await client.close()
  const { db } = await waitFor(app, (db) => db.status === 'unhealthy')
  t.equal(db.topology!.closed, true)
  t.equal(db.pool!.open, 0)
  // Two more samples, each of which would have pinged (and so reconnected) a client it still used.
  await database(app)
  await database(app)
  t.equal(server.received.get('ismaster') ?? 0, handshakes, 'no new connection was opened')
})

/** A stand-in for MongoClient: the collector only needs events, `options` and `db().command()`. */
class FakeClient extends EventEmitter {
  options = { monitorCommands: true }
  calls = 0
  constructor (private readonly command: (signal: AbortSignal) => Promise<unknown>) { super() }
  db () {
    return {
      command: (_doc: unknown, options: { signal: AbortSignal }) => {
        this.calls++
        return this.command(options.signal)
      }
    }
  }
}

function fakeCollector (t: Test, command: (signal: AbortSignal) => Promise<unknown>, timeoutMs = 50) {
  const client = new FakeClient(command)
  const collector = createMongoCollector(client as unknown as MongoClient, {
    timeoutMs, required: true, serverStatusIntervalMs: DEFAULT_SERVER_STATUS_INTERVAL_MS, log: silentLog
  })
  t.teardown(() => collector.close())
  return { client, collector }
}

t.test('a ping the driver never settles is not started twice, and its timer is cleared', async (t) => {
  // A driver that ignores the abort signal: the worst case.
  const { client, collector } = fakeCollector(t, () => new Promise(() => {}))
  const timeouts = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length
  const timersBefore = timeouts()
  // The ping never settles: that sample() does is its timeout at work.
  await collector.sample()
  t.equal(timeouts(), timersBefore, 'no timer left pending after the deadline')
  t.equal(collector.read().status, 'unhealthy')
  t.match(errorOf(collector.read()), /ping timed out after 50 ms/)
  const calls = client.calls // ping and the first serverStatus
  await collector.sample()
  await collector.sample()
  t.equal(client.calls, calls, 'no second ping while the first is unsettled')
})

t.test('command names are bounded, the collector\'s own commands and awaited heartbeats are skipped', async (t) => {
  const { client, collector } = fakeCollector(t, async () => ({ ok: 1 }))
  for (let i = 0; i < MAX_COMMAND_NAMES + 10; i++) {
    client.emit('commandSucceeded', { requestId: i, commandName: `command${i}`, duration: 2 })
  }
  client.emit('commandFailed', { requestId: 1000, commandName: 'command1', duration: 4 })
  client.emit('commandStarted', { requestId: 2000, commandName: 'ping', command: { ping: 1, comment: OWN_COMMAND_COMMENT } })
  client.emit('commandSucceeded', { requestId: 2000, commandName: 'ping', duration: 1 })
  client.emit('commandStarted', { requestId: 2001, commandName: 'ping', command: { ping: 1 } })
  client.emit('commandSucceeded', { requestId: 2001, commandName: 'ping', duration: 1 })
  client.emit('serverHeartbeatSucceeded', { connectionId: 'db:27017', duration: 3, awaited: false })
  client.emit('serverHeartbeatSucceeded', { connectionId: 'db:27017', duration: 9000, awaited: true })
  await collector.sample()
  const { commands, topology } = collector.read()
  t.equal(Object.keys(commands!.byName).length, MAX_COMMAND_NAMES + 1, `${MAX_COMMAND_NAMES} names and "${OTHER_COMMANDS}"`)
  t.equal(commands!.byName[OTHER_COMMANDS]!.count, 11, 'ten late names and the application\'s ping')
  t.same(commands!.byName.command1, { count: 2, failures: 1, averageMs: 3, totalMs: 6, p50: 2.05, p95: 4, p99: 4, max: 4 })
  t.equal(commands!.total, MAX_COMMAND_NAMES + 12)
  t.equal(topology!.heartbeatMs, 3, 'the awaited heartbeat (a long poll) is not a round trip')
  t.ok(JSON.stringify(collector.read()).length < 20_000, 'the snapshot stays small')
})

t.test('serverStatus numbers as Long or bigint, a command that throws, pool events without a duration', async (t) => {
  let throwing = false
  const client = new FakeClient(async () => ({ ok: 1 }))
  client.db = () => ({
    command: (doc: unknown) => {
      if (throwing) throw new Error('thrown synchronously')
      if ((doc as { serverStatus?: number }).serverStatus === 1) {
        return Promise.resolve({ connections: { current: Long.fromNumber(3), available: 7n, totalCreated: 9 }, opcounters: {}, ok: 1 })
      }
      return Promise.resolve({ ok: 1 })
    }
  })
  const collector = createMongoCollector(client as unknown as MongoClient, {
    timeoutMs: 50, required: false, serverStatusIntervalMs: 0, log: silentLog
  })
  t.teardown(() => collector.close())
  await collector.sample() // ping only: serverStatus waits for a ping that answered
  await collector.sample()
  const { serverStatus } = collector.read()
  t.same(serverStatus!.connections, { current: 3, available: 7, totalCreated: 9 })
  t.same(serverStatus!.opcounters, { insert: 0, query: 0, update: 0, delete: 0, getmore: 0, command: 0 })
  t.equal(serverStatus!.residentMemory, null, 'no mem section: null, not a made-up number')
  t.equal(serverStatus!.version, null)

  const time = new Date()
  client.emit('connectionCheckOutStarted', { address: 'db:27017', time })
  client.emit('connectionCheckOutStarted', { address: 'db:27017', time })
  client.emit('connectionCheckedOut', { address: 'db:27017', connectionId: 1, time })
  await collector.sample()
  t.equal(collector.read().pool!.waiting, 1, 'without durationMS the oldest waiter leaves the queue')
  t.equal(collector.read().pool!.checkoutWaitMs.p50, null)

  throwing = true
  await collector.sample()
  t.equal(collector.read().status, 'unhealthy')
  t.equal(collector.read().required, false)
  t.equal(errorOf(collector.read()), 'thrown synchronously')
})

t.test('issue 15.9: database.error reports the driver\'s cause (ECONNREFUSED), not only "ping timed out"', async (t) => {
  const server = await mongoServer(t)
  await server.stop()
  const client = mongoClient(t, server.uri)
  const app = await watchedApp(t, client)
  const { db } = await waitFor(app, (db) => db.status === 'unhealthy' && db.topology!.heartbeatFailures >= 1 && db.lastCheckedAt !== null)
  t.match(errorOf(db), /^connect ECONNREFUSED 127\.0\.0\.1:\d+ \(ping timed out after 300 ms\)$/)
})
