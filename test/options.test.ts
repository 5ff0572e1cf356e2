import { createRequire } from 'node:module'
import { test } from 'tap'
import Fastify from 'fastify'
import serverWatch, * as entry from '../lib/plugin.js'
import { buildApp, sleep } from './helpers/app.js'

const fakeMongoClient = { db () {}, on () {}, off () {} }

const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
  ['sampleIntervalMs', { sampleIntervalMs: 'fast' }, /"sampleIntervalMs" option must be an integer from 10 to 3600000, got "fast"/],
  ['sampleIntervalMs', { sampleIntervalMs: 5 }, /"sampleIntervalMs" option must be an integer from 10/],
  ['sampleIntervalMs', { sampleIntervalMs: 1.5 }, /"sampleIntervalMs"/],
  ['checkTimeoutMs', { checkTimeoutMs: 0 }, /"checkTimeoutMs" option must be an integer from 1 to 600000, got 0/],
  ['maxRoutes', { maxRoutes: -1 }, /"maxRoutes" option must be an integer from 1/],
  ['maxRecentErrors', { maxRecentErrors: null }, /"maxRecentErrors" option must be an integer from 0 to 1000, got null/],
  ['maxErrorMessageLength', { maxErrorMessageLength: 2 }, /"maxErrorMessageLength"/],
  ['maxStreams', { maxStreams: Infinity }, /"maxStreams"/],
  ['healthPath', { healthPath: 'health' }, /"healthPath" option must be false or a path starting with "\/", got "health"/],
  ['dashboardPath', { dashboardPath: true }, /"dashboardPath" option must be false or a path/],
  ['metricsPath', { metricsPath: '/a b' }, /"metricsPath"/],
  ['authorize', { authorize: 'admin' }, /"authorize" option must be a function/],
  ['mongo', { mongo: 'mongodb://localhost' }, /"mongo" option must be a MongoClient/],
  ['mongo', { mongo: { client: {} } }, /"mongo" option must be a MongoClient/],
  ['mongo.required', { mongo: { client: fakeMongoClient, required: 'yes' } }, /"mongo.required" option must be a boolean/],
  ['serverStatusIntervalMs', { mongo: { client: fakeMongoClient, serverStatusIntervalMs: 1 } }, /"serverStatusIntervalMs" option must be an integer/],
  ['checks', { checks: [() => true] }, /"checks" option must be an object of named checks/],
  ['unknown option', { sampleInterval: 1000 }, /"sampleInterval" option must be one of the documented options/]
]

for (const [name, options, message] of invalid) {
  test(`invalid ${name} fails at register with a coded error naming it`, async (t) => {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(async () => { await app.register(serverWatch, options as never) }, { code: 'FST_SERVER_WATCH_INVALID_OPTION', message })
  })
}

test('invalid checks fail at register with FST_SERVER_WATCH_INVALID_CHECK', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ db: 'up' }, /check "db" must be a function or \{ check: function/],
    [{ db: { check: 'ping' } }, /check "db" must be a function/],
    [{ db: { check: () => true, required: 1 } }, /check "db" "required" must be a boolean, got 1/],
    [{ db: { check: () => true, timeoutMs: 0 } }, /check "db" "timeoutMs" must be an integer from 1 to 600000, got 0/]
  ]
  for (const [checks, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(serverWatch, { checks } as never) }, { code: 'FST_SERVER_WATCH_INVALID_CHECK', message })
    await app.close()
  }
})

test('two routes on one path fail at register with FST_SERVER_WATCH_PATH_CONFLICT', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => { await app.register(serverWatch, { healthPath: '/ops', dashboardPath: '/ops/' }) }, {
    code: 'FST_SERVER_WATCH_PATH_CONFLICT',
    message: '"healthPath" and "dashboardPath" options are both "/ops"'
  })
})

test('exports: default and named plugin, error classes, schema', async (t) => {
  t.equal(entry.default, entry.serverWatch)
  t.equal(typeof serverWatch, 'function')
  t.equal((serverWatch as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')], 'fastify-server-watch')
  t.equal(new entry.FST_SERVER_WATCH_INVALID_OPTION('x', 'y', 'z').code, 'FST_SERVER_WATCH_INVALID_OPTION')
  t.equal(typeof entry.HealthSnapshotSchema, 'object')
})

test('the built package resolves for ESM and CommonJS consumers', async (t) => {
  const require = createRequire(import.meta.url)
  const cjs = require('fastify-server-watch')
  t.equal(typeof cjs.default, 'function', 'require(esm) gives the module namespace')
  t.equal(cjs.default, cjs.serverWatch)
  const esm = await import('fastify-server-watch')
  t.equal(esm.default, esm.serverWatch)
})

test('the decorator is read-only and typed', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  await app.ready()
  t.ok(Object.isFrozen(app.serverWatch))
  t.throws(() => { (app.serverWatch as { snapshot: unknown }).snapshot = null })
  t.equal(app.serverWatch.status(), 'healthy')
  const points: number[] = []
  const unsubscribe = app.serverWatch.onSample((point) => points.push(point.timestamp))
  await sleep(130)
  unsubscribe()
  const seen = points.length
  t.ok(seen >= 1, 'onSample is called after samples')
  await sleep(120)
  t.equal(points.length, seen, 'not after unsubscribing')
  const history = app.serverWatch.history('5m')
  t.equal(history.range, '5m')
  t.equal(history.stepMs, 50)
  t.ok(history.timestamps.length >= 2)
  t.equal(history.series.rss.length, history.timestamps.length)
})

test('app.close() leaves no timer, socket or handle behind', async (t) => {
  const handles = () => (process as unknown as { _getActiveHandles (): unknown[] })._getActiveHandles().length
  const before = handles()
  const app = await buildApp({ sampleIntervalMs: 10, checks: { ok: () => true } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  await app.inject('/')
  await sleep(50)
  await app.close()
  await sleep(20)
  t.equal(handles(), before)
})

test('registering in production without token or authorize logs a warning', async (t) => {
  const previous = process.env.NODE_ENV
  process.env.NODE_ENV = 'production'
  t.teardown(() => { process.env.NODE_ENV = previous })
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } } })
  t.teardown(() => app.close())
  await app.register(serverWatch)
  t.ok(lines.some((line) => line.includes('closed to everyone. Set SERVER_WATCH_TOKEN')), 'warned')
})
