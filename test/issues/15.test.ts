import { Writable } from 'node:stream'
import { test } from 'tap'
import Fastify from 'fastify'
import serverWatch from '../../lib/plugin.js'
import { errorCode, errorText, loggableError, UNPRINTABLE } from '../../lib/error-text.js'
import { buildApp } from '../helpers/app.js'

/** An object that has no printable form: its toString throws. */
const unprintable = () => ({ toString () { throw new Error('toString exploded') } })
/** An Error whose message getter throws. */
const messageThrows = () => {
  const error = new Error('hidden')
  Object.defineProperty(error, 'message', { get () { throw new Error('getter exploded') } })
  return error
}
const circular = () => {
  const value: Record<string, unknown> = { a: 1 }
  value.self = value
  return value
}

test('errorText is total: anything thrown becomes a bounded string, and it never throws', async (t) => {
  const revoked = Proxy.revocable({}, {})
  revoked.revoke()
  const trapsThrow = new Proxy({}, { get () { throw new Error('trap') }, getPrototypeOf () { throw new Error('trap') } })
  const withBigIntMessage = Object.assign(new Error('x'), { message: 12n as unknown as string })
  const withCircularMessage = Object.assign(new Error('x'), { message: circular() as unknown as string })
  const cases: Array<[string, unknown, string]> = [
    ['an Error', new Error('boom'), 'boom'],
    ['a string', 'plain', 'plain'],
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
    ['a number', 42, '42'],
    ['a BigInt', 7n, '7'],
    ['a symbol', Symbol('odd'), 'Symbol(odd)'],
    ['an object without a prototype', Object.create(null), '[object Object]'],
    ['an object whose toString throws', unprintable(), '[object Object]'],
    ['an Error whose message getter throws', messageThrows(), 'Error'],
    ['an Error with an empty message', new TypeError(''), 'TypeError'],
    ['an Error whose message is a BigInt', withBigIntMessage, '12'],
    ['an Error whose message is a circular object', withCircularMessage, '[object Object]'],
    ['an error-like object', { message: 'like an error', code: 'E_LIKE' }, 'like an error'],
    ['a revoked Proxy', revoked.proxy, UNPRINTABLE],
    ['a Proxy whose traps throw', trapsThrow, UNPRINTABLE]
  ]
  for (const [what, thrown, expected] of cases) t.equal(errorText(thrown, 200), expected, what)
  t.equal(errorText('x'.repeat(1_000_000), 16), `${'x'.repeat(15)}…`, 'a huge string is cut')
  t.equal(errorText(new Error('y'.repeat(500)), 16).length, 16)
  t.equal(errorCode({ code: 'ECONNREFUSED' }), 'ECONNREFUSED')
  t.equal(errorCode({ code: 11000 }), '11000')
  t.equal(errorCode({ code: 'c'.repeat(100) })?.length, 64)
  t.equal(errorCode(null), undefined)
  t.equal(errorCode(trapsThrow), undefined)
  t.equal(errorCode(Object.assign(new Error('x'), { code: {} })), undefined)
  t.same(loggableError(trapsThrow), { message: UNPRINTABLE })
  const logged = loggableError(Object.assign(new Error('logged'), { code: 'E_LOG' }))
  t.equal(logged.message, 'logged')
  t.equal(logged.code, 'E_LOG')
  t.match(logged.stack, /^Error: logged\n/)
})

test('issue 15.1: a check that throws Object.create(null), an unprintable object or an Error whose message getter throws fails, not pending', async (t) => {
  const throwers: Array<[string, () => unknown]> = [
    ['Object.create(null)', () => Object.create(null)],
    ['an object whose toString throws', unprintable],
    ['an Error whose message getter throws', messageThrows]
  ]
  for (const [what, thrown] of throwers) {
    const app = await buildApp({ checks: { a: () => { throw thrown() } } })
    await app.ready()
    await app.serverWatch.refresh()
    const health = await app.inject('/health')
    t.equal(health.statusCode, 503, `${what}: /health 503`)
    t.equal(health.json().status, 'unhealthy', what)
    t.equal(health.json().checks.a.status, 'fail', what)
    t.equal(typeof health.json().checks.a.error, 'string', what)
    const ready = await app.inject('/health/ready')
    t.equal(ready.statusCode, 503, `${what}: not ready`)
    t.same(ready.json(), { status: 'fail' })
    await app.close()
  }
})

test('issue 15.1: a required check with no result yet is not passing (unhealthy, 503); an optional one degrades', async (t) => {
  let release = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  const app = await buildApp({ checks: { slow: () => gate, later: { check: () => gate, required: false } } })
  t.teardown(() => app.close())
  await app.ready()
  const health = await app.inject('/health')
  t.equal(health.statusCode, 503)
  t.equal(health.json().status, 'unhealthy')
  t.equal(health.json().checks.slow.status, 'pending')
  const healthJson = await app.inject({ url: '/health', headers: { accept: 'application/health+json' } })
  t.equal(healthJson.json().checks['slow:responseTime'][0].status, 'fail', 'a required pending check is a fail component')
  t.equal(healthJson.json().checks['later:responseTime'][0].status, 'warn', 'an optional one a warn')
  t.equal((await app.inject('/health/ready')).statusCode, 503)
  release()
  await app.serverWatch.refresh()
  t.equal(app.serverWatch.status(), 'healthy')
  t.equal((await app.inject('/health')).statusCode, 200)

  const optional = await buildApp({ checks: { later: { check: () => new Promise(() => {}), required: false, timeoutMs: 50 } } })
  t.teardown(() => optional.close())
  t.equal(optional.serverWatch.status(), 'degraded', 'an optional check with no result yet degrades')
})

test('issue 15.2: an error whose message is a BigInt or a circular object does not break /health, api/snapshot or the stream', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  app.get('/bigint', async () => { throw Object.assign(new Error('x'), { message: 12n }) })
  app.get('/circular', async () => { throw Object.assign(new Error('x'), { message: circular() }) })
  await app.ready()
  await app.inject('/bigint')
  await app.inject('/circular')
  const health = await app.inject('/health')
  t.equal(health.statusCode, 200)
  t.same(health.json().application.recentErrors.map((error: { message: string }) => error.message), ['[object Object]', '12'])
  t.equal((await app.inject('/dashboard/api/snapshot')).statusCode, 200)
  t.doesNotThrow(() => JSON.stringify(app.serverWatch.snapshot()), 'what the stream sends is serialisable')
})

test('issue 15.2: a handler that throws null or an unprintable object is recorded, and the plugin\'s hook does not throw', async (t) => {
  const lines: Array<{ msg?: string, err?: { message?: string } }> = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(JSON.parse(String(chunk))); done() } })
  const app = Fastify({ logger: { level: 'warn', stream } })
  t.teardown(() => app.close())
  await app.register(serverWatch, { sampleIntervalMs: 50 })
  // eslint-disable-next-line no-throw-literal
  app.get('/null', async () => { throw null })
  app.get('/unprintable', async () => { throw unprintable() })
  await app.ready()
  for (const url of ['/null', '/unprintable']) t.equal((await app.inject(url)).statusCode, 500, url)
  const recent = app.serverWatch.snapshot().application.recentErrors
  t.same(recent.map((error) => [error.route, error.statusCode, error.message]), [
    ['/unprintable', 500, '[object Object]'],
    ['/null', 500, 'null']
  ])
  t.same(lines.filter((line) => /already sent/.test(line.err?.message ?? '')), [], 'no "Reply was already sent"')
})

test('issue 15.9: a bad history range answers 400 with the allowed values, not raw validator text', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const response = await app.inject('/dashboard/api/history?range=2d')
  t.equal(response.statusCode, 400)
  t.equal(response.json().code, 'FST_ERR_VALIDATION')
  t.equal(response.json().message, 'querystring/range must be one of "5m", "1h", "24h"')
  t.equal((await app.inject('/dashboard/api/history?range=1h')).json().range, '1h')
  t.equal((await app.inject('/dashboard/api/history')).json().range, '5m', 'the default still applies')
})
