import { readFileSync } from 'node:fs'
import { Agent, request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { connect as connectHttp2 } from 'node:http2'
import { Readable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { createRequestHooks } from '../lib/requests/hooks.js'
import { findContextSymbol } from '../lib/requests/fastify-internals.js'
import { RequestMetrics } from '../lib/requests/store.js'
import { RecentRequests } from '../lib/collectors/recent.js'
import { Histogram } from '../lib/histogram.js'
import serverWatch from '../lib/plugin.js'
import { buildApp, sleep } from './helpers/app.js'

test('requests are counted by route pattern, never by raw URL', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  await app.inject('/users/1')
  await app.inject('/users/2?expand=true')
  await app.inject('/users/3')
  await app.inject('/')
  const { application } = app.serverWatch.snapshot()
  t.same(Object.keys(application.endpoints).sort(), ['GET /', 'GET /users/:id'])
  t.equal(application.endpoints['GET /users/:id']!.count, 3)
  t.equal(application.endpoints['GET /']!.count, 1)
  t.equal(application.totalRequests, 4)
  t.same(application.statusCodes, { 200: 4 })
  t.equal(application.inFlight, 0)
  t.equal(application.errorCount, 0)
  t.equal(application.errorRate, 0)
})

test('status codes, error count and error rate: errors are responses with status >= 500', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  await app.inject('/')
  await app.inject('/fail')
  await app.inject('/teapot')
  await app.inject({ method: 'POST', url: '/users', payload: {} })
  await app.inject({ method: 'POST', url: '/users', payload: { name: 'ada' } })
  const { application } = app.serverWatch.snapshot()
  t.same(application.statusCodes, { 200: 1, 201: 1, 400: 1, 418: 1, 500: 1 })
  t.equal(application.totalRequests, 5)
  t.equal(application.errorCount, 1)
  t.equal(application.errorRate, 20)
  t.equal(application.endpoints['GET /fail']!.errorCount, 1)
  t.equal(application.endpoints['POST /users']!.count, 2)
  t.equal(application.endpoints['POST /users']!.errorCount, 0, 'a 400 is not a server error')
})

test('response times: average and percentiles of each endpoint match the delays served', async (t) => {
  const app = Fastify()
  await app.register(serverWatch, { sampleIntervalMs: 1000 })
  app.get('/sleep/:ms', async (request) => {
    await sleep(Number((request.params as { ms: string }).ms))
    return { ok: true }
  })
  app.get('/fast', async () => ({ ok: true }))
  t.teardown(() => app.close())
  for (let i = 0; i < 19; i++) await app.inject('/fast')
  await app.inject('/sleep/120')
  const { application } = app.serverWatch.snapshot()
  const slow = application.endpoints['GET /sleep/:ms']!
  t.ok(slow.p50! >= 115 && slow.p50! < 200, `p50 of the slow route ${slow.p50}`)
  t.ok(slow.max! >= 119, `max ${slow.max}`)
  const fast = application.endpoints['GET /fast']!
  t.ok(fast.p99! < 50, `fast p99 ${fast.p99}`)
  t.ok(application.responseTimeMs.p50! < 50, 'overall p50 comes from the fast route')
  t.ok(application.responseTimeMs.max! >= 119, 'overall max is the slow request')
  const expectedAverage = (fast.averageResponseTimeMs! * 19 + slow.averageResponseTimeMs!) / 20
  t.ok(Math.abs(application.averageResponseTimeMs! - expectedAverage) < 0.01, 'overall average weighs every request')
})

test('10,000 distinct unmatched URLs share one not-found bucket', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  for (let i = 0; i < 10_000; i++) await app.inject(`/missing/${i}/${Math.random()}`)
  const { application } = app.serverWatch.snapshot()
  t.same(Object.keys(application.endpoints), ['(not found)'])
  t.equal(application.endpoints['(not found)']!.count, 10_000)
  t.same(application.statusCodes, { 404: 10_000 })
})

test('past maxRoutes distinct keys, the rest share the overflow bucket', async (t) => {
  const app = Fastify()
  await app.register(serverWatch, { maxRoutes: 5 })
  for (let i = 0; i < 20; i++) app.get(`/r${i}/:id`, async () => 'ok')
  t.teardown(() => app.close())
  for (let n = 0; n < 10_000; n++) await app.inject(`/r${n % 20}/${n}`)
  const { application } = app.serverWatch.snapshot()
  const keys = Object.keys(application.endpoints)
  t.equal(keys.length, 6, 'five routes and the overflow bucket')
  t.equal(application.endpoints['(other routes)']!.count, 7_500)
  t.equal(application.endpoints['GET /r0/:id']!.count, 500)
  t.equal(application.totalRequests, 10_000)
})

test('a route registered with several methods gets a key per method', async (t) => {
  const app = Fastify()
  await app.register(serverWatch)
  app.route({ method: ['GET', 'DELETE'], url: '/items/:id', handler: async () => 'ok' })
  t.teardown(() => app.close())
  await app.inject('/items/1')
  await app.inject({ method: 'DELETE', url: '/items/1' })
  await app.inject({ method: 'DELETE', url: '/items/2' })
  const { endpoints } = app.serverWatch.snapshot().application
  t.equal(endpoints['GET /items/:id']!.count, 1)
  t.equal(endpoints['DELETE /items/:id']!.count, 2)
})

test('routes with config.serverWatch false and the plugin\'s own routes are not counted', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  await app.inject('/private')
  await app.inject('/health')
  await app.inject('/dashboard/api/snapshot')
  await app.inject('/')
  const { application } = app.serverWatch.snapshot()
  t.same(Object.keys(application.endpoints), ['GET /'])
  t.equal(application.totalRequests, 1)
})

test('routes are counted whatever the order: declared before the plugin loads, or with register not awaited', async (t) => {
  const early = Fastify()
  early.get('/early', async () => 'early')
  await early.register(serverWatch)
  t.teardown(() => early.close())
  await early.inject('/early')
  t.equal(early.serverWatch.snapshot().application.endpoints['GET /early']?.count, 1, 'a route declared before register')

  // The usual pattern: register is not awaited, so the routes below exist before the plugin has loaded.
  const usual = Fastify()
  usual.register(serverWatch)
  usual.get('/usual', async () => 'usual')
  usual.register(async (child) => { child.get('/child', async () => 'child') }, { prefix: '/api' })
  t.teardown(() => usual.close())
  await usual.inject('/usual')
  await usual.inject('/api/child')
  await usual.inject('/api/child')
  const { endpoints, totalRequests, inFlight } = usual.serverWatch.snapshot().application
  t.equal(endpoints['GET /usual']?.count, 1)
  t.equal(endpoints['GET /api/child']?.count, 2)
  t.equal(totalRequests, 3)
  t.equal(inFlight, 0)

  // A child plugin loaded (and awaited) before the plugin: Fastify 5 still runs the root hooks added later on its
  // routes, but its Request class was built before any request decorator of ours would have existed. The plugin
  // declares none (see kStart in lib/requests/hooks.ts), so those requests are counted like any other; with
  // decorators they made onSend throw, logged as an error on every request.
  const errors: string[] = []
  const before = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { errors.push(line) } } } })
  await before.register(async (child) => { child.get('/first', async () => 'first') }, { prefix: '/v1' })
  await before.register(serverWatch)
  before.get('/root', async () => 'root')
  t.teardown(() => before.close())
  t.equal((await before.inject('/v1/first')).statusCode, 200)
  await before.inject('/root')
  const counted = before.serverWatch.snapshot().application
  t.same(Object.keys(counted.endpoints), ['GET /v1/first', 'GET /root'], 'a child plugin loaded before the plugin is counted')
  t.same(counted.statusCodes, { 200: 2 })
  t.equal(counted.endpoints['GET /v1/first']?.count, 1)
  t.same(errors, [], 'nothing logged')
})

test('responses sent by other hooks are counted: before ours without a duration, after ours timed', async (t) => {
  const app = Fastify()
  // Registered before the plugin, so it runs before the plugin's onRequest: a rate limiter, say.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.headers['x-limit'] !== undefined) reply.code(429).send({ error: 'slow down' })
    else done()
  })
  await app.register(serverWatch)
  app.addHook('preHandler', async (request, reply) => {
    if (request.headers['x-user'] === undefined) {
      await sleep(30)
      return reply.code(401).send({ error: 'who are you' })
    }
  })
  app.get('/guarded', { onRequest: [(_request, _reply, done) => done()] }, async () => 'ok')
  t.teardown(() => app.close())
  t.equal((await app.inject({ url: '/guarded', headers: { 'x-limit': '1' } })).statusCode, 429)
  t.equal((await app.inject('/guarded')).statusCode, 401)
  t.equal((await app.inject({ url: '/guarded', headers: { 'x-user': 'ada' } })).statusCode, 200)
  const { application } = app.serverWatch.snapshot()
  t.same(application.statusCodes, { 200: 1, 401: 1, 429: 1 })
  const endpoint = application.endpoints['GET /guarded']!
  t.equal(endpoint.count, 3)
  t.ok(endpoint.max! >= 25, `the 401 is timed from the plugin's onRequest: max ${endpoint.max} ms`)
  t.equal(application.inFlight, 0)
})

test('the status recorded is the one sent, whatever onSend hooks after ours or a fetch Response do to it', async (t) => {
  const app = Fastify()
  await app.register(serverWatch)
  // Registered after the plugin, so their onSend hooks run after its own: an ETag check, a slow async
  // rewrite, and a hook that fails (Fastify then sends a 500 through the error handler).
  app.addHook('onSend', (request, reply, payload, done) => {
    if (request.headers['if-none-match'] === '"v1"') reply.code(304)
    done(null, payload)
  })
  app.addHook('onSend', async (request, reply, payload) => {
    if (request.headers['x-accept-later'] !== undefined) {
      await sleep(30)
      reply.code(202)
    }
    return payload
  })
  app.addHook('onSend', (request, _reply, payload, done) => {
    if (request.headers['x-boom'] !== undefined && payload === 'fine') done(new Error('onSend hook failed'))
    else done(null, payload)
  })
  app.get('/thing', async () => 'fine')
  app.get('/fetch-style', async () => new Response('made', { status: 201, headers: { 'content-type': 'text/plain' } }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

  // Over inject and over real HTTP: the deferred path relies on the response's close, which both emit.
  for (const send of [
    async (path: string, headers: Record<string, string> = {}) => (await app.inject({ url: path, headers })).statusCode,
    async (path: string, headers: Record<string, string> = {}) => (await fetch(base + path, { headers })).status
  ]) {
    t.equal(await send('/thing', { 'if-none-match': '"v1"' }), 304)
    t.equal(await send('/thing', { 'x-accept-later': '1' }), 202)
    t.equal(await send('/thing', { 'x-boom': '1' }), 500)
    t.equal(await send('/fetch-style'), 201)
    t.equal(await send('/thing'), 200)
  }
  await sleep(50)
  const { application } = app.serverWatch.snapshot()
  t.same(application.statusCodes, { 200: 2, 201: 2, 202: 2, 304: 2, 500: 2 })
  t.equal(application.endpoints['GET /thing']!.count, 8)
  t.ok(application.endpoints['GET /thing']!.max! >= 25, `timed to the end of the async hook: max ${application.endpoints['GET /thing']!.max} ms`)
  t.equal(application.endpoints['GET /fetch-style']!.count, 2)
  t.equal(application.recentErrors.length, 2)
  t.match(application.recentErrors[0], { statusCode: 500, message: 'onSend hook failed', route: '/thing' })
  t.equal(application.inFlight, 0)
  t.equal(application.aborted, 0)
})

test('a response whose headers Node refuses is counted as the 500 that Fastify sends instead', async (t) => {
  const app = Fastify()
  await app.register(serverWatch)
  app.get('/bad-header', async (_request, reply) => {
    reply.header('x-bad', 'line\nbreak')
    return 'never sent'
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  t.equal((await app.inject('/bad-header')).statusCode, 500)
  t.equal((await fetch(`http://127.0.0.1:${port}/bad-header`)).status, 500)
  await sleep(50)
  const { application } = app.serverWatch.snapshot()
  t.same(application.statusCodes, { 500: 2 })
  t.equal(application.endpoints['GET /bad-header']!.count, 2)
  t.equal(application.inFlight, 0)
  t.equal(application.aborted, 0)
  t.equal(application.recentErrors.length, 2)
})

test('an HTTP/2 server that also accepts HTTP/1.1 (allowHTTP1) counts both kinds of request', async (t) => {
  const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url))
  const app = Fastify({
    http2: true,
    https: { allowHTTP1: true, key: fixture('localhost-key.pem'), cert: fixture('localhost-cert.pem') }
  })
  await app.register(serverWatch)
  app.post('/echo', async (request) => {
    await sleep(30)
    return request.body
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  // HTTP/1.1: its IncomingMessage closes once the body is read, long before the response; not an abort.
  const http1 = await new Promise<string>((resolve, reject) => {
    const client = httpsRequest({ port, host: '127.0.0.1', path: '/echo', method: 'POST', rejectUnauthorized: false, headers: { 'content-type': 'application/json' } }, (response) => {
      let text = ''
      response.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).on('end', () => resolve(text))
    })
    client.on('error', reject)
    client.end(JSON.stringify({ over: 'http1' }))
  })
  t.same(JSON.parse(http1), { over: 'http1' })
  const session = connectHttp2(`https://127.0.0.1:${port}`, { rejectUnauthorized: false })
  t.teardown(() => session.close())
  const http2Body = await new Promise<string>((resolve, reject) => {
    let text = ''
    const stream = session.request({ ':path': '/echo', ':method': 'POST', 'content-type': 'application/json' })
    stream.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).on('end', () => resolve(text)).on('error', reject)
    stream.end(JSON.stringify({ over: 'http2' }))
  })
  t.same(JSON.parse(http2Body), { over: 'http2' })
  await sleep(50)
  const { application } = app.serverWatch.snapshot()
  t.equal(application.endpoints['POST /echo']?.count, 2)
  t.equal(application.aborted, 0)
  t.equal(application.inFlight, 0)
})

test('a client gone before the plugin\'s onRequest ran is an abort, not a request in flight forever', async (t) => {
  const app = Fastify()
  // A hook before the plugin's, still awaiting something when the client leaves.
  app.addHook('onRequest', async () => { await sleep(150) })
  await app.register(serverWatch)
  app.get('/', async () => 'ok')
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  const client = httpRequest({ port, host: '127.0.0.1', path: '/' })
  client.on('error', () => {})
  client.end()
  await sleep(50)
  client.destroy()
  await sleep(250)
  const { application } = app.serverWatch.snapshot()
  t.equal(application.aborted, 1)
  t.equal(application.inFlight, 0)
  t.equal(application.totalRequests, 0)
})

test('a keep-alive connection holds no reply between requests', async (t) => {
  const app = Fastify()
  await app.register(serverWatch)
  app.get('/', async () => 'ok')
  const sockets: Array<Record<symbol, unknown>> = []
  app.server.on('connection', (socket) => { sockets.push(socket as unknown as Record<symbol, unknown>) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve, reject) => {
      httpRequest({ port, host: '127.0.0.1', path: '/', agent }, (response) => { response.resume().on('end', resolve) })
        .on('error', reject).end()
    })
  }
  t.equal(sockets.length, 1, 'one connection carried the three requests')
  const held = Object.getOwnPropertySymbols(sockets[0]!).filter((symbol) => symbol.description === 'serverWatch.reply')
  t.equal(held.length, 1, 'the instance\'s own key')
  t.equal(sockets[0]![held[0]!], null, 'released when the response was recorded, so the reply can be collected')
  t.equal(app.serverWatch.snapshot().application.totalRequests, 3)
})

test('a streamed response is timed to its end; a stream the client abandons is an abort', async (t) => {
  const app = Fastify()
  await app.register(serverWatch)
  const slowStream = (chunks: number) => Readable.from((async function * () {
    for (let i = 0; i < chunks; i++) { await sleep(20); yield `chunk ${i}\n` }
  })())
  app.get('/download', async (_request, reply) => reply.type('text/plain').send(slowStream(5)))
  app.get('/endless', async (_request, reply) => reply.type('text/plain').send(slowStream(1000)))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  const body = await new Promise<string>((resolve, reject) => {
    httpRequest({ port, host: '127.0.0.1', path: '/download' }, (response) => {
      let text = ''
      response.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).on('end', () => resolve(text))
    }).on('error', reject).end()
  })
  t.match(body, /chunk 4/)
  await sleep(20)
  let { application } = app.serverWatch.snapshot()
  t.ok(application.endpoints['GET /download']!.max! >= 90, `timed to the last chunk: ${application.endpoints['GET /download']!.max} ms`)

  const client = httpRequest({ port, host: '127.0.0.1', path: '/endless' }, (response) => {
    response.once('data', () => client.destroy())
  })
  client.on('error', () => {})
  client.end()
  await sleep(200)
  application = app.serverWatch.snapshot().application
  t.equal(application.aborted, 1)
  t.equal(application.inFlight, 0)
  t.equal(application.endpoints['GET /endless'], undefined, 'an abandoned stream has no response to count')
})

test('a hijacked reply is not counted and leaves inFlight with its connection or at the next request', async (t) => {
  const app = Fastify()
  await app.register(serverWatch)
  app.get('/hijack', (_request, reply) => {
    reply.hijack()
    reply.raw.writeHead(200, { 'content-type': 'text/plain', 'content-length': '3' })
    reply.raw.end('raw')
  })
  app.get('/', async () => 'ok')
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  const get = (path: string) => new Promise<string>((resolve, reject) => {
    httpRequest({ port, host: '127.0.0.1', path, agent }, (response) => {
      let text = ''
      response.setEncoding('utf8').on('data', (chunk: string) => { text += chunk }).on('end', () => resolve(text))
    }).on('error', reject).end()
  })
  t.equal(await get('/hijack'), 'raw')
  t.equal(app.serverWatch.snapshot().application.inFlight, 1, 'not seen to end yet')
  t.equal(await get('/'), 'ok', 'the next request on the same connection')
  let { application } = app.serverWatch.snapshot()
  t.equal(application.inFlight, 0)
  t.same(Object.keys(application.endpoints), ['GET /'])
  t.equal(application.aborted, 0, 'a hijacked reply is not an abort')

  t.equal(await get('/hijack'), 'raw')
  agent.destroy()
  await sleep(100)
  application = app.serverWatch.snapshot().application
  t.equal(application.inFlight, 0, 'settled when its connection closed')
  t.equal(application.aborted, 0)
  t.equal(application.totalRequests, 1)
})

test('the route config is read through Fastify\'s route context, or through routeOptions if that is not found', async (t) => {
  const app = Fastify()
  await app.register(serverWatch)
  const configs: unknown[] = []
  const probe = async (request: FastifyRequest) => {
    const symbol = findContextSymbol(request)
    const config = symbol === null ? null : (request as unknown as Record<symbol, { config: unknown }>)[symbol]!.config
    configs.push(config)
    return { found: symbol !== null, sameAsRouteOptions: config === request.routeOptions.config }
  }
  app.get('/probe', probe)
  app.get('/other', probe)
  t.teardown(() => app.close())
  t.same((await app.inject('/probe')).json(), { found: true, sameAsRouteOptions: true }, 'the fast path works with the installed Fastify')
  await app.inject('/probe')
  await app.inject({ method: 'HEAD', url: '/probe' })
  await app.inject('/other')
  t.equal(configs[0], configs[1], 'one config per route, the same on every request: where the Endpoint is cached')
  t.equal(new Set(configs).size, 3, 'GET /probe, its automatic HEAD route and GET /other each have their own')

  const metrics = new RequestMetrics(10, 5, 100)
  const hooks = createRequestHooks(metrics)
  const config = { url: '/things/:id', method: 'GET' }
  const fakeRequest = () => ({
    method: 'GET',
    url: '/things/1',
    routeOptions: { config },
    raw: { socket: null }
  }) as unknown as FastifyRequest
  const reply = { statusCode: 204, raw: { writableEnded: true } } as unknown as FastifyReply
  for (let i = 0; i < 2; i++) {
    const request = fakeRequest()
    hooks.onRequest(request, reply, () => {})
    t.equal(metrics.inFlight, 1)
    hooks.onSend(request, reply, '', () => {})
  }
  t.equal(metrics.endpoints.get('GET /things/:id')?.count, 2)
  t.equal(metrics.statusCodes[204], 2)
  t.equal(metrics.inFlight, 0)
})

test('routes under an encapsulated prefix are keyed by their full pattern', async (t) => {
  const app = Fastify()
  await app.register(serverWatch)
  await app.register(async (api) => { api.get('/orders/:id', async () => 'ok') }, { prefix: '/api/v1' })
  t.teardown(() => app.close())
  await app.inject('/api/v1/orders/7')
  t.equal(app.serverWatch.snapshot().application.endpoints['GET /api/v1/orders/:id']!.count, 1)
})

test('two instances, one at the root and one in a child context, keep their own counts (issue 15.4)', async (t) => {
  const app = Fastify()
  await app.register(serverWatch, { prefix: '/root-watch' })
  app.get('/a', async () => 'a')
  let child: FastifyInstance | undefined
  await app.register(async (scope) => {
    await scope.register(serverWatch, { prefix: '/watch' })
    scope.get('/x', async () => 'x')
    scope.get('/fail', async () => { throw new Error('child failed') })
    child = scope
  }, { prefix: '/child' })
  t.teardown(() => app.close())
  for (let i = 0; i < 2; i++) t.equal((await app.inject('/a')).statusCode, 200)
  for (let i = 0; i < 3; i++) t.equal((await app.inject('/child/x')).statusCode, 200)
  t.equal((await app.inject('/child/fail')).statusCode, 500)
  t.equal((await app.inject('/root-watch/health')).statusCode, 200)
  t.equal((await app.inject('/child/watch/health')).statusCode, 200)

  const root = app.serverWatch.snapshot().application
  t.equal(root.totalRequests, 6, 'the root sees every request of the app')
  t.same(Object.fromEntries(Object.entries(root.endpoints).map(([key, e]) => [key, e.count])),
    { 'GET /a': 2, 'GET /child/x': 3, 'GET /child/fail': 1 })
  t.same(root.statusCodes, { 200: 5, 500: 1 })
  t.same(root.recentErrors.map((e) => [e.route, e.statusCode, e.message]), [['/child/fail', 500, 'child failed']])
  t.equal(root.inFlight, 0)

  t.not(child!.serverWatch, app.serverWatch, 'the child has its own decorator')
  const inner = child!.serverWatch.snapshot().application
  t.equal(inner.totalRequests, 4, 'the child sees its own context\'s requests only')
  t.same(Object.fromEntries(Object.entries(inner.endpoints).map(([key, e]) => [key, e.count])),
    { 'GET /child/x': 3, 'GET /child/fail': 1 })
  t.same(inner.statusCodes, { 200: 3, 500: 1 })
  t.same(inner.recentErrors.map((e) => [e.route, e.statusCode, e.message]), [['/child/fail', 500, 'child failed']])
  t.equal(inner.inFlight, 0)
})

test('two instances over real HTTP: each sees the keep-alive requests and the abort of a child route once', async (t) => {
  const app = Fastify()
  await app.register(serverWatch, { prefix: '/root-watch' })
  let child: FastifyInstance | undefined
  let release!: () => void
  const released = new Promise<void>((resolve) => { release = resolve })
  await app.register(async (scope) => {
    await scope.register(serverWatch, { prefix: '/watch' })
    scope.get('/x', async () => 'x')
    scope.get('/slow', async () => { await released; return 'late' })
    child = scope
  }, { prefix: '/child' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve, reject) => {
      httpRequest({ port, host: '127.0.0.1', path: '/child/x', agent }, (response) => { response.resume().on('end', resolve) })
        .on('error', reject).end()
    })
  }
  const slow = httpRequest({ port, host: '127.0.0.1', path: '/child/slow' })
  slow.on('error', () => {})
  slow.end()
  await sleep(100)
  const views = () => [app.serverWatch.snapshot().application, child!.serverWatch.snapshot().application]
  t.same(views().map((view) => view.inFlight), [1, 1], 'in flight in both while it runs')
  slow.destroy()
  await sleep(100)
  release()
  await sleep(50)
  for (const [name, view] of [['root', views()[0]!], ['child', views()[1]!]] as const) {
    t.same({ total: view.totalRequests, endpoints: Object.keys(view.endpoints), inFlight: view.inFlight, aborted: view.aborted },
      { total: 3, endpoints: ['GET /child/x'], inFlight: 0, aborted: 1 }, name)
  }
})

test('recent errors: newest first, query string stripped, message cut, code kept, bounded', async (t) => {
  const app = Fastify()
  await app.register(serverWatch, { maxRecentErrors: 3, maxErrorMessageLength: 20 })
  app.get('/coded/:n', async (request) => {
    const error = new Error(`failure number ${(request.params as { n: string }).n} with a very long explanation`)
    Object.assign(error, { code: 'E_COFFEE' })
    throw error
  })
  app.post('/validated', { schema: { body: { type: 'object', required: ['a'] } } }, async () => 'ok')
  t.teardown(() => app.close())
  for (let n = 1; n <= 4; n++) {
    await app.inject({ url: `/coded/${n}?token=secret-${n}`, headers: { authorization: 'Bearer hunter2' } })
  }
  await app.inject({ method: 'POST', url: '/validated?x=1', payload: { b: 1 } })
  const { recentErrors } = app.serverWatch.snapshot().application
  t.equal(recentErrors.length, 3, 'at most maxRecentErrors')
  t.match(recentErrors[0], { method: 'POST', route: '/validated', path: '/validated', statusCode: 400, code: 'FST_ERR_VALIDATION' })
  t.match(recentErrors[1], { method: 'GET', route: '/coded/:n', path: '/coded/4', statusCode: 500, code: 'E_COFFEE' })
  t.equal(recentErrors[1]!.message.length, 20)
  t.equal(recentErrors[1]!.message, 'failure number 4 wi…')
  t.equal(recentErrors[2]!.path, '/coded/3')
  t.ok(Date.parse(recentErrors[0]!.timestamp) >= Date.parse(recentErrors[2]!.timestamp))
  const stored = JSON.stringify(recentErrors)
  t.notOk(stored.includes('secret'), 'no query string')
  t.notOk(stored.includes('hunter2'), 'no headers')
})

test('recent errors record the status the error handler finally sent', async (t) => {
  const app = Fastify()
  await app.register(serverWatch)
  app.setErrorHandler((_error, _request, reply) => { reply.code(503).send({ busy: true }) })
  app.get('/busy', async () => { throw new Error('overloaded') })
  t.teardown(() => app.close())
  await app.inject('/busy')
  const { application } = app.serverWatch.snapshot()
  t.match(application.recentErrors[0], { statusCode: 503, message: 'overloaded' })
  t.equal(application.errorCount, 1)
})

test('maxRecentErrors 0 keeps no errors', async (t) => {
  const app = await buildApp({ maxRecentErrors: 0 })
  t.teardown(() => app.close())
  await app.inject('/fail')
  t.same(app.serverWatch.snapshot().application.recentErrors, [])
  t.equal(app.serverWatch.snapshot().application.errorCount, 1)
})

test('in-flight and aborted requests over real HTTP', async (t) => {
  const app = Fastify()
  await app.register(serverWatch)
  let release!: () => void
  const released = new Promise<void>((resolve) => { release = resolve })
  app.get('/slow', async () => { await released; return 'late' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  const client = httpRequest({ port, host: '127.0.0.1', path: '/slow' })
  client.on('error', () => {})
  client.end()
  await sleep(100)
  t.equal(app.serverWatch.snapshot().application.inFlight, 1, 'counted while it runs')
  client.destroy()
  await sleep(100)
  release()
  await sleep(50)
  const { application } = app.serverWatch.snapshot()
  t.equal(application.aborted, 1)
  t.equal(application.inFlight, 0)
  t.equal(application.totalRequests, 0, 'an aborted request has no response to count')
})

test('over HTTP/2, requests are counted and a cancelled stream is an abort', async (t) => {
  const app = Fastify({ http2: true })
  await app.register(serverWatch)
  let release!: () => void
  const released = new Promise<void>((resolve) => { release = resolve })
  app.get('/', async () => 'ok')
  app.get('/slow', async () => { await released; return 'late' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  const session = connectHttp2(`http://127.0.0.1:${port}`)
  t.teardown(() => session.close())
  const body = await new Promise<string>((resolve, reject) => {
    let text = ''
    session.request({ ':path': '/' }).setEncoding('utf8')
      .on('data', (chunk: string) => { text += chunk }).on('end', () => resolve(text)).on('error', reject)
  })
  t.equal(body, 'ok')
  const slow = session.request({ ':path': '/slow' })
  slow.on('error', () => {})
  await sleep(100)
  t.equal(app.serverWatch.snapshot().application.inFlight, 1)
  slow.close()
  await sleep(100)
  release()
  await sleep(50)
  const { application } = app.serverWatch.snapshot()
  t.equal(application.aborted, 1)
  t.equal(application.inFlight, 0)
  t.equal(application.totalRequests, 1)
})

test('over HTTP/2, a hijacked reply leaves inFlight when its stream closes', async (t) => {
  const app = Fastify({ http2: true })
  await app.register(serverWatch)
  app.get('/hijack', (_request, reply) => {
    reply.hijack()
    reply.raw.writeHead(200, { 'content-type': 'text/plain' })
    reply.raw.end('raw')
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  const session = connectHttp2(`http://127.0.0.1:${port}`)
  t.teardown(() => session.close())
  for (let i = 0; i < 2; i++) {
    const body = await new Promise<string>((resolve, reject) => {
      let text = ''
      session.request({ ':path': '/hijack' }).setEncoding('utf8')
        .on('data', (chunk: string) => { text += chunk }).on('end', () => resolve(text)).on('error', reject)
    })
    t.equal(body, 'raw')
  }
  await sleep(50)
  const { application } = app.serverWatch.snapshot()
  t.equal(application.inFlight, 0)
  t.equal(application.aborted, 0)
  t.equal(application.totalRequests, 0)
})

test('requests that time out are counted', async (t) => {
  const app = Fastify({ connectionTimeout: 100 })
  await app.register(serverWatch)
  app.get('/stuck', async () => { await sleep(400); return 'too late' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  await new Promise<void>((resolve) => {
    const client = httpRequest({ port, host: '127.0.0.1', path: '/stuck' }, (response) => { response.resume(); response.on('end', resolve) })
    client.on('error', () => resolve())
    client.end()
  })
  await sleep(450)
  t.equal(app.serverWatch.snapshot().application.timedOut, 1)
})

test('a streamed response that stalls until the connection times out is counted as timed out', async (t) => {
  const app = Fastify({ connectionTimeout: 100 })
  await app.register(serverWatch)
  app.get('/stall', async (_request, reply) => reply.type('text/plain').send(Readable.from((async function * () {
    yield 'first chunk\n'
    await sleep(400)
    yield 'too late\n'
  })())))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  await new Promise<void>((resolve) => {
    const client = httpRequest({ port, host: '127.0.0.1', path: '/stall' }, (response) => {
      response.resume()
      response.on('end', resolve).on('error', () => resolve()).on('close', resolve)
    })
    client.on('error', () => resolve())
    client.end()
  })
  await sleep(450)
  const { application } = app.serverWatch.snapshot()
  t.equal(application.timedOut, 1)
  t.equal(application.aborted, 1, 'the stream never ended: an abort as well')
  t.equal(application.inFlight, 0)
})

test('issue 16: application.recent on a sample without responses keeps its figures and only widens the window', async (t) => {
  const histogram = new Histogram()
  const counters = { total: 0, errorCount: 0, histogram: () => histogram }
  const recent = new RecentRequests(counters)
  recent.tick(0)
  for (const ms of [10, 20, 30]) { histogram.record(ms); counters.total++ }
  counters.errorCount++
  const busy = recent.tick(1000)
  t.match(busy, { windowSeconds: 1, requests: 3, errors: 1, errorRate: 33.33 })
  const idle = recent.tick(5000)
  t.same(idle, { ...busy, windowSeconds: 5 })
  // A checkpoint is taken at 10 s: still the same oldest one, so the same figures.
  t.same(recent.tick(12_000), { ...busy, windowSeconds: 12 })
  histogram.record(40)
  counters.total++
  t.match(recent.tick(13_000), { windowSeconds: 13, requests: 4, errors: 1, errorRate: 25 })
  // Once the ring is full the oldest checkpoint moves on: recomputed though nothing was answered.
  for (let time = 20_000; time <= 70_000; time += 10_000) recent.tick(time)
  t.match(recent.tick(80_000), { requests: 1, errors: 0 })
})

test('requestsPerSecond covers the recent window', async (t) => {
  const app = await buildApp({ sampleIntervalMs: 100 })
  t.teardown(() => app.close())
  await app.ready()
  await app.serverWatch.refresh()
  for (let i = 0; i < 50; i++) await app.inject('/')
  await sleep(250)
  const { requestsPerSecond } = app.serverWatch.snapshot().application
  // 50 requests within a window of about 0.3 to 0.6 s.
  t.ok(requestsPerSecond > 50 && requestsPerSecond < 250, `requestsPerSecond ${requestsPerSecond}`)
})

test('without a connectionTimeout no onTimeout hook is added: it could never fire', async (t) => {
  const metaOf = async (app: FastifyInstance) => {
    await app.register(serverWatch)
    app.get('/meta', async (request) => ({ meta: (request.raw.socket as unknown as { _meta?: unknown })._meta !== undefined }))
    t.teardown(() => app.close())
    return (await app.inject('/meta')).json().meta
  }
  t.equal(await metaOf(Fastify()), false, 'no per-request timeout bookkeeping by default')
  t.equal(await metaOf(Fastify({ connectionTimeout: 1000 })), true, 'added when the server can time out')
})

test('issue 15.5: a status of 999 written with reply.raw appears in statusCodes and in Prometheus; codes Node refuses share "other"', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  app.get('/odd', (_request, reply) => { reply.raw.statusCode = 999; reply.send('odd') })
  app.get('/600', (_request, reply) => { reply.raw.statusCode = 600; reply.send('odd') })
  await app.ready()
  t.equal((await app.inject('/odd')).statusCode, 999)
  await app.inject('/600')
  await app.inject('/')
  const { application } = app.serverWatch.snapshot()
  t.same(application.statusCodes, { 200: 1, 600: 1, 999: 1 })
  t.equal(application.totalRequests, 3)
  t.equal(application.errorCount, 2, 'a code above 599 is not a valid HTTP status: counted as an error (5xx class)')
  const counted = Object.values(application.statusCodes).reduce((sum, count) => sum + count, 0)
  t.equal(counted, application.totalRequests, 'every counted response has its status code')

  const metrics = new RequestMetrics(10, 10, 200)
  const endpoint = metrics.endpointFor('GET', '/x')
  for (const code of [42, 999, 1000, Number.NaN, 200.5]) metrics.record(endpoint, code, 1)
  const snapshot = metrics.snapshot(Date.now())
  t.same(snapshot.statusCodes, { 999: 1, other: 4 })
  t.equal(snapshot.errorCount, 5)
  t.equal(endpoint.byClass[5]!.count, 5, 'every out-of-range code is in the 5xx class')

  const text = (await app.inject('/metrics')).body
  t.match(text, /^http_responses_by_code_total\{code="999"\} 1$/m)
  t.match(text, /^http_responses_by_code_total\{code="600"\} 1$/m)
  t.match(text, /^http_requests_total\{method="GET",route="\/odd",status_class="5xx"\} 1$/m)
})
