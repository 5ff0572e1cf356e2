// Options are checked once, at register: every invalid one fails with a coded error that names it.
import { test } from 'tap'
import Fastify from 'fastify'
import serverWatch from '../lib/plugin.js'
import { normalizeOptions } from '../lib/options.js'
import { buildApp } from './helpers/app.js'

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
  ['mongo.required', { mongo: { client: fakeMongoClient, required: 'yes' } }, /"mongo.required" option must be a boolean/],
  // issue 26.16: a nested option is named by its full path.
  ['mongo.serverStatusIntervalMs', { mongo: { client: fakeMongoClient, serverStatusIntervalMs: 1 } }, /"mongo\.serverStatusIntervalMs" option must be an integer/],
  ['mongo.client', { mongo: { client: {} } }, /"mongo\.client" option must be a MongoClient/],
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
  ]
  for (const [checks, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(serverWatch, { checks } as never) }, { code: 'FST_SERVER_WATCH_INVALID_CHECK', message })
    await app.close()
  }
})

test('a check\'s own options are named by their full path (one message style for every option group)', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ db: { check: () => true, required: 1 } }, /^"checks\.db\.required" option must be a boolean, got 1$/],
    [{ db: { check: () => true, timeoutMs: 0 } }, /^"checks\.db\.timeoutMs" option must be an integer from 1 to 600000, got 0$/],
    [{ db: { check: () => true, timeoutMs: null } }, /^"checks\.db\.timeoutMs" option must be an integer from 1 to 600000, got null$/]
  ]
  for (const [checks, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(serverWatch, { checks } as never) }, { code: 'FST_SERVER_WATCH_INVALID_OPTION', message })
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
    [{ checks: { a: { check: () => true, timeoutMs: null } } }, 'FST_SERVER_WATCH_INVALID_OPTION', /^"checks\.a\.timeoutMs" option must be an integer from 1 to 600000, got null$/]
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

test('issue 27.4: parsing the options writes nothing; shared mode checks that its directory takes a file when it starts', async (t) => {
  // /proc exists and is a directory, and takes no file, whoever runs the test (root included).
  const options = normalizeOptions({ shared: { dir: '/proc' } })
  t.same(options.shared, { dir: '/proc', name: options.shared!.name, workerId: null, source: '"shared.dir" option' }, 'parsed without a probe file')
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => { await app.register(serverWatch, { shared: { dir: '/proc' } }) }, {
    code: 'FST_SERVER_WATCH_SHARED_DIR',
    message: /^"shared\.dir" option names "\/proc", which is not writable \((EACCES|EROFS|ENOENT|EPERM)\)$/
  })
})

test('issue 27.4: the shared group is checked like every other: one plain-object rule, did-you-mean, full paths', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ dri: '/tmp' }, /^"shared\.dri" option must be one of dir, name \(unknown option; did you mean "dir"\?\), got a string$/],
    [new Map(), /^"shared" option must be false or \{ dir\?, name\? \}, got a Map$/],
    [{ dir: '' }, /^"shared\.dir" option must be a directory path \(or set SERVER_WATCH_DIR\), got ""$/],
    [{ dir: '/tmp', name: '../x' }, /^"shared\.name" option must be 1 to 64 letters, .*, got "\.\.\/x"$/]
  ]
  for (const [shared, message] of cases) {
    t.throws(() => normalizeOptions({ shared } as never), { code: 'FST_SERVER_WATCH_INVALID_OPTION', message }, String(message))
  }
})
