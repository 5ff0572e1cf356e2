import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import type { FastifyInstance, FastifyServerOptions } from 'fastify'
import { isLoopback } from '../lib/access.js'
import type { ServerWatchOptions } from '../lib/plugin.js'
import { buildApp } from './helpers/app.js'

/** The detailed views: everything but /health and its probes. */
const DETAILED = [
  '/metrics',
  '/dashboard',
  '/dashboard/',
  '/dashboard/api/snapshot',
  '/dashboard/api/history?range=1h',
  '/dashboard/api/stream',
  '/dashboard/static/app.js'
]
const LOOPBACK = ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']
const REMOTE = ['203.0.113.9', '10.0.0.1', '::ffff:10.0.0.1', '2001:db8::1', '::ffff:203.0.113.9']

type Access = 'allowed' | 'denied'

async function app (test: Test, options: ServerWatchOptions = {}, fastifyOptions: FastifyServerOptions = {}) {
  const instance = await buildApp(options, fastifyOptions)
  test.teardown(() => instance.close())
  await instance.ready()
  await instance.serverWatch.refresh()
  return instance
}

/** GET (or HEAD) `url`; a live stream is read until its headers and first bytes, then dropped. */
async function call (instance: FastifyInstance, url: string, remoteAddress: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') {
  if (url.endsWith('/stream') && method === 'GET') {
    const controller = new AbortController()
    const response = await instance.inject({ method, url, remoteAddress, headers, payloadAsStream: true, signal: controller.signal })
    let body = ''
    for await (const chunk of response.stream()) {
      body += String(chunk)
      if (body.includes('\n\n') || response.statusCode !== 200) break
    }
    controller.abort()
    return { statusCode: response.statusCode, headers: response.headers, body }
  }
  const response = await instance.inject({ method, url, remoteAddress, headers })
  return { statusCode: response.statusCode, headers: response.headers, body: response.body }
}

/** Asserts what `remoteAddress` gets from every route, given whether `authorize` lets it in. */
async function checkMatrix (test: Test, instance: FastifyInstance, remoteAddress: string, access: Access, headers: Record<string, string> = {}) {
  for (const url of DETAILED) {
    const response = await call(instance, url, remoteAddress, headers)
    if (access === 'allowed') {
      test.equal(response.statusCode, 200, `${remoteAddress} GET ${url}: 200`)
      continue
    }
    test.equal(response.statusCode, 403, `${remoteAddress} GET ${url}: 403`)
    test.match(response.headers['content-type'], /^application\/json/)
    test.same(JSON.parse(response.body), {
      statusCode: 403,
      code: 'FST_SERVER_WATCH_FORBIDDEN',
      error: 'Forbidden',
      message: 'not allowed to read the detailed server watch'
    }, `${url}: a JSON error and nothing else`)
    const head = await call(instance, url, remoteAddress, headers, 'HEAD')
    test.equal(head.statusCode, 403, `${remoteAddress} HEAD ${url}: 403`)
  }

  const health = await call(instance, '/health', remoteAddress, headers)
  test.equal(health.statusCode, 200)
  const keys = Object.keys(JSON.parse(health.body)).sort()
  if (access === 'allowed') {
    test.ok(keys.includes('application') && keys.includes('memory'), `${remoteAddress} /health: the details`)
  } else {
    test.same(keys, ['status', 'timestamp'], `${remoteAddress} /health: the status and timestamp alone`)
  }
  const healthJson = await call(instance, '/health', remoteAddress, { ...headers, accept: 'application/health+json' })
  test.equal(healthJson.statusCode, 200)
  if (access === 'allowed') test.ok('checks' in JSON.parse(healthJson.body), `${remoteAddress} health+json: checks`)
  else test.same(JSON.parse(healthJson.body), { status: 'pass' }, `${remoteAddress} health+json: the status alone`)

  for (const probe of ['/health/live', '/health/ready']) {
    const response = await call(instance, probe, remoteAddress, headers)
    test.equal(response.statusCode, 200, `${remoteAddress} ${probe}: open to every caller`)
    test.same(JSON.parse(response.body), { status: 'pass' })
  }
}

t.test('isLoopback accepts 127.0.0.0/8, ::1 and IPv4-mapped loopback only', async (t) => {
  for (const address of LOOPBACK) t.ok(isLoopback(address), address)
  for (const address of [...REMOTE, undefined, '', '::', '0.0.0.0', '::ffff:128.0.0.1', '1.127.0.0']) t.notOk(isLoopback(address), String(address))
})

t.test('default: loopback callers read everything, other callers get 403s and the bare health status', async (t) => {
  const instance = await app(t)
  for (const address of LOOPBACK) await checkMatrix(t, instance, address, 'allowed')
  for (const address of REMOTE) await checkMatrix(t, instance, address, 'denied')
  // A forged X-Forwarded-For counts for nothing without trustProxy.
  await checkMatrix(t, instance, '203.0.113.9', 'denied', { 'x-forwarded-for': '127.0.0.1' })
})

t.test('behind a reverse proxy, trustProxy makes the default judge the client, not the proxy', async (t) => {
  const trusting = await app(t, {}, { trustProxy: '127.0.0.1' })
  await checkMatrix(t, trusting, '127.0.0.1', 'denied', { 'x-forwarded-for': '203.0.113.9' })
  await checkMatrix(t, trusting, '127.0.0.1', 'allowed', { 'x-forwarded-for': '127.0.0.1' })
  await checkMatrix(t, trusting, '127.0.0.1', 'allowed')
  // The hazard the README warns about: without trustProxy, a proxy on the same host makes every client loopback.
  const naive = await app(t)
  await checkMatrix(t, naive, '127.0.0.1', 'allowed', { 'x-forwarded-for': '203.0.113.9' })
})

t.test('a custom authorize replaces the default: sync, async, and anything but true denies', async (t) => {
  const cases: Array<[string, ServerWatchOptions['authorize'], Access]> = [
    ['sync true', () => true, 'allowed'],
    ['sync false', () => false, 'denied'],
    ['async true', async () => true, 'allowed'],
    ['async false', async () => false, 'denied'],
    ['throws', () => { throw new Error('no session store') }, 'denied'],
    ['rejects', async () => { throw new Error('no session store') }, 'denied'],
    ['truthy but not true', () => 'yes' as unknown as boolean, 'denied'],
    ['resolves truthy but not true', async () => 1 as unknown as boolean, 'denied']
  ]
  // One app whose authorize hands over to each case in turn (a new app per case costs the first /health's
  // serializer compilation every time).
  let current: NonNullable<ServerWatchOptions['authorize']> = () => false
  const instance = await app(t, { authorize: (request) => current(request) })
  for (const [name, authorize, access] of cases) {
    current = authorize!
    // The same answer from loopback and from elsewhere: the default is gone.
    await checkMatrix(t, instance, '127.0.0.1', access)
    await checkMatrix(t, instance, '203.0.113.9', access)
    t.comment(`${name}: ${access}`)
  }
})

t.test('authorize sees the request: a token check', async (t) => {
  let calls = 0
  const instance = await app(t, {
    authorize: (request) => { calls++; return request.headers.authorization === 'Bearer s3cret' }
  })
  await checkMatrix(t, instance, '203.0.113.9', 'allowed', { authorization: 'Bearer s3cret' })
  await checkMatrix(t, instance, '127.0.0.1', 'denied', { authorization: 'Bearer guess' })
  calls = 0
  await instance.inject({ url: '/metrics', remoteAddress: '203.0.113.9' })
  t.equal(calls, 1, 'called once per request')
})

t.test('a throwing authorize is logged as a warning and denies', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  const instance = await app(t, { authorize: () => { throw new Error('no session store') } }, { logger: { level: 'warn', stream } })
  t.equal((await instance.inject('/metrics')).statusCode, 403)
  t.equal((await instance.inject({ url: '/dashboard/api/snapshot' })).statusCode, 403)
  const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40)
  t.ok(warnings.length >= 2)
  t.match(warnings[0], { msg: /authorize threw; access denied/, err: { message: 'no session store' } })
})

t.test('a warning at start-up when NODE_ENV=production and no authorize was given', async (t) => {
  const before = process.env.NODE_ENV
  t.teardown(() => { process.env.NODE_ENV = before })
  process.env.NODE_ENV = 'production'
  for (const [options, expected] of [[{}, 1], [{ authorize: () => true }, 0]] as const) {
    const lines: string[] = []
    const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
    await app(t, options, { logger: { level: 'warn', stream } })
    t.equal(lines.filter((line) => line.includes('no \\"authorize\\" option')).length, expected, `${expected} warning`)
  }
})
