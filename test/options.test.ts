import { createRequire } from 'node:module'
import { test } from 'tap'
import Fastify from 'fastify'
import serverWatch, * as entry from '../lib/plugin.js'
import { buildApp } from './helpers/app.js'
import { fakeClock, until } from './helpers/time.js'

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
  ['healthPath', { healthPath: 'health' }, /"healthPath" option must be false or a path starting with "\/" \(.*\), got "health"/],
  ['dashboardPath', { dashboardPath: true }, /"dashboardPath" option must be false or a path/],
  ['metricsPath', { metricsPath: '/a b' }, /"metricsPath"/],
  ['authorize', { authorize: 'admin' }, /"authorize" option must be a function/],
  ['mongo', { mongo: 'mongodb://localhost' }, /"mongo" option must be a MongoClient/],
  ['mongo', { mongo: { client: {} } }, /"mongo" option must be a MongoClient/],
  ['mongo.required', { mongo: { client: fakeMongoClient, required: 'yes' } }, /"mongo.required" option must be a boolean/],
  ['serverStatusIntervalMs', { mongo: { client: fakeMongoClient, serverStatusIntervalMs: 1 } }, /"serverStatusIntervalMs" option must be an integer/],
  ['checks', { checks: [() => true] }, /"checks" option must be a plain object of named checks/],
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
  const clock = fakeClock(t)
  const app = await buildApp()
  t.teardown(() => app.close())
  await app.ready()
  t.ok(Object.isFrozen(app.serverWatch))
  t.throws(() => { (app.serverWatch as { snapshot: unknown }).snapshot = null })
  t.equal(app.serverWatch.status(), 'healthy')
  await app.serverWatch.refresh()
  const points: number[] = []
  const unsubscribe = app.serverWatch.onSample((point) => points.push(point.timestamp))
  clock.tick(50)
  await app.serverWatch.refresh()
  t.same(points, [Date.now()], 'onSample is called after a sample, with its point')
  unsubscribe()
  clock.tick(50)
  await app.serverWatch.refresh()
  t.equal(points.length, 1, 'not after unsubscribing')
  const history = app.serverWatch.history('5m')
  t.equal(history.range, '5m')
  t.equal(history.stepMs, 50)
  t.equal(history.timestamps.length, 3, 'a point per 50 ms step sampled')
  t.equal(history.series.rss.length, history.timestamps.length)
})

test('app.close() leaves no timer, socket or handle behind', async (t) => {
  const handles = () => (process as unknown as { _getActiveHandles (): unknown[] })._getActiveHandles().length
  const before = handles()
  const app = await buildApp({ sampleIntervalMs: 10, checks: { ok: () => true } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  await app.inject('/')
  await app.serverWatch.refresh()
  await app.close()
  // A closed server's handles go on the loop's next turns: waited for, not timed.
  await until(() => handles() === before, 'the handles to close')
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

test('issue 15.6: unknown keys are rejected at every depth, naming the full path, with a "did you mean"', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ checks: { a: { check: () => true, requried: false } } },
      /^"checks\.a\.requried" option must be one of check, required, timeoutMs \(unknown option; did you mean "required"\?\), got a boolean$/],
    [{ checks: { a: { check: () => true, timeout: 10 } } }, /"checks\.a\.timeout" option .*did you mean "timeoutMs"\?/],
    [{ mongo: { client: fakeMongoClient, requird: false } }, /^"mongo\.requird" option must be one of client, required, serverStatusIntervalMs \(unknown option; did you mean "required"\?\)/],
    [{ mongo: { clinet: fakeMongoClient } }, /"mongo\.clinet" option .*did you mean "client"\?/],
    [{ sampleInterval: 1000 }, /^"sampleInterval" option must be one of the documented options \(unknown option; did you mean "sampleIntervalMs"\?\), got a number$/],
    [{ healthpath: '/h' }, /did you mean "healthPath"\?/],
    [{ zzzzzzzz: 1 }, /^"zzzzzzzz" option must be one of the documented options \(unknown option\), got a number$/]
  ]
  for (const [options, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(serverWatch, options as never) }, { code: 'FST_SERVER_WATCH_INVALID_OPTION', message })
    await app.close()
  }
})

test('issue 15.6: checks and mongo options must be plain objects, not a Map or a class instance', async (t) => {
  class Checks { a = () => true }
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ checks: new Map([['a', () => true]]) }, 'FST_SERVER_WATCH_INVALID_OPTION', /^"checks" option must be a plain object of named checks, got a Map$/],
    [{ checks: new Checks() }, 'FST_SERVER_WATCH_INVALID_OPTION', /^"checks" option must be a plain object of named checks, got a Checks$/],
    [{ checks: { a: new Map() } }, 'FST_SERVER_WATCH_INVALID_CHECK', /^check "a" must be a function or \{ check: function/],
    [{ mongo: new Map([['client', fakeMongoClient]]) }, 'FST_SERVER_WATCH_INVALID_OPTION', /^"mongo" option must be a MongoClient or/]
  ]
  for (const [options, code, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(serverWatch, options as never) }, { code, message })
    await app.close()
  }
})

test('issue 15.6: paths that can never match and a null timeoutMs are rejected', async (t) => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ healthPath: '/../x' }, 'FST_SERVER_WATCH_INVALID_OPTION', /^"healthPath" option must be false or a path starting with "\/" .*no "\." or "\.\." segment.*, got "\/\.\.\/x"$/],
    [{ dashboardPath: '/.' }, 'FST_SERVER_WATCH_INVALID_OPTION', /^"dashboardPath" option must be false or a path/],
    [{ metricsPath: '/a/./b' }, 'FST_SERVER_WATCH_INVALID_OPTION', /^"metricsPath" option/],
    [{ metricsPath: '/a/..' }, 'FST_SERVER_WATCH_INVALID_OPTION', /^"metricsPath" option/],
    [{ checks: { a: { check: () => true, timeoutMs: null } } }, 'FST_SERVER_WATCH_INVALID_CHECK', /^check "a" "timeoutMs" must be an integer from 1 to 600000, got null$/]
  ]
  for (const [options, code, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(serverWatch, options as never) }, { code, message })
    await app.close()
  }
  // Dots inside a segment are fine.
  const app = await buildApp({ healthPath: '/.well-known/health', metricsPath: '/metrics..v1' })
  t.teardown(() => app.close())
  t.equal((await app.inject('/.well-known/health')).statusCode, 200)
  t.equal((await app.inject('/metrics..v1')).statusCode, 200)
})
