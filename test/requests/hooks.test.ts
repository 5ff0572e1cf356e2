// The request lifecycle (lib/requests/hooks.ts, fastify-internals.ts) over real HTTP/1.1 and HTTP/2: deferred
// responses, aborts, hijacks, streams, timeouts, several instances.
import { readFileSync } from 'node:fs'
import { Agent, request as httpRequest, type IncomingMessage } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { connect as connectHttp2, type Http2ServerRequest } from 'node:http2'
import { Readable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import { test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { createRequestHooks } from '../../lib/requests/hooks.js'
import { findContextSymbol } from '../../lib/requests/fastify-internals.js'
import { RequestMetrics } from '../../lib/requests/store.js'
import serverWatch from '../../lib/plugin.js'
import { sleep } from '../helpers/app.js'
import { gate, until } from '../helpers/time.js'

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
  await until(() => app.serverWatch.snapshot().application.totalRequests === 10, 'the ten responses to be recorded')
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
  await until(() => app.serverWatch.snapshot().application.totalRequests === 2, 'both responses to be recorded')
  const { application } = app.serverWatch.snapshot()
  t.same(application.statusCodes, { 500: 2 })
  t.equal(application.endpoints['GET /bad-header']!.count, 2)
  t.equal(application.inFlight, 0)
  t.equal(application.aborted, 0)
  t.equal(application.recentErrors.length, 2)
})

test('an HTTP/2 server that also accepts HTTP/1.1 (allowHTTP1) counts both kinds of request', async (t) => {
  const fixture = (name: string) => readFileSync(new URL(`../fixtures/${name}`, import.meta.url))
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
  await until(() => app.serverWatch.snapshot().application.totalRequests === 2, 'both responses to be recorded')
  const { application } = app.serverWatch.snapshot()
  t.equal(application.endpoints['POST /echo']?.count, 2)
  t.equal(application.aborted, 0)
  t.equal(application.inFlight, 0)
})

test('a client gone before the plugin\'s onRequest ran is an abort, not a request in flight forever', async (t) => {
  const app = Fastify()
  // A hook before the plugin's, still awaiting something when the client leaves.
  const arrived = gate<IncomingMessage>()
  const released = gate()
  app.addHook('onRequest', async (request) => { arrived.open(request.raw); await released.promise })
  await app.register(serverWatch)
  app.get('/', async () => 'ok')
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  const client = httpRequest({ port, host: '127.0.0.1', path: '/' })
  client.on('error', () => {})
  client.end()
  const raw = await arrived.promise
  client.destroy()
  await new Promise((resolve) => raw.once('close', resolve))
  released.open()
  await until(() => app.serverWatch.snapshot().application.aborted === 1, 'the abort to be recorded')
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
  await until(() => app.serverWatch.snapshot().application.totalRequests === 1, 'the download to be recorded')
  let { application } = app.serverWatch.snapshot()
  t.ok(application.endpoints['GET /download']!.max! >= 90, `timed to the last chunk: ${application.endpoints['GET /download']!.max} ms`)

  const client = httpRequest({ port, host: '127.0.0.1', path: '/endless' }, (response) => {
    response.once('data', () => client.destroy())
  })
  client.on('error', () => {})
  client.end()
  await until(() => app.serverWatch.snapshot().application.aborted === 1, 'the abandoned stream to be recorded')
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
  await until(() => app.serverWatch.snapshot().application.inFlight === 0, 'the connection to close')
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

test('two instances over real HTTP: each sees the keep-alive requests and the abort of a child route once', async (t) => {
  const app = Fastify()
  await app.register(serverWatch, { prefix: '/root-watch' })
  let child: FastifyInstance | undefined
  const arrived = gate<IncomingMessage>()
  const released = gate()
  await app.register(async (scope) => {
    await scope.register(serverWatch, { prefix: '/watch' })
    scope.get('/x', async () => 'x')
    scope.get('/slow', async (request) => { arrived.open(request.raw); await released.promise; return 'late' })
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
  const raw = await arrived.promise
  const views = () => [app.serverWatch.snapshot().application, child!.serverWatch.snapshot().application]
  t.same(views().map((view) => view.inFlight), [1, 1], 'in flight in both while it runs')
  slow.destroy()
  await new Promise((resolve) => raw.once('close', resolve))
  released.open()
  await until(() => views().every((view) => view.inFlight === 0), 'both instances to see the abort')
  for (const [name, view] of [['root', views()[0]!], ['child', views()[1]!]] as const) {
    t.same({ total: view.totalRequests, endpoints: Object.keys(view.endpoints), inFlight: view.inFlight, aborted: view.aborted },
      { total: 3, endpoints: ['GET /child/x'], inFlight: 0, aborted: 1 }, name)
  }
})

test('in-flight and aborted requests over real HTTP', async (t) => {
  const app = Fastify()
  await app.register(serverWatch)
  const arrived = gate<IncomingMessage>()
  const released = gate()
  app.get('/slow', async (request) => { arrived.open(request.raw); await released.promise; return 'late' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo
  const client = httpRequest({ port, host: '127.0.0.1', path: '/slow' })
  client.on('error', () => {})
  client.end()
  const raw = await arrived.promise
  t.equal(app.serverWatch.snapshot().application.inFlight, 1, 'counted while it runs')
  client.destroy()
  await new Promise((resolve) => raw.once('close', resolve))
  released.open()
  await until(() => app.serverWatch.snapshot().application.inFlight === 0, 'the abort to be recorded')
  const { application } = app.serverWatch.snapshot()
  t.equal(application.aborted, 1)
  t.equal(application.inFlight, 0)
  t.equal(application.totalRequests, 0, 'an aborted request has no response to count')
})

test('over HTTP/2, requests are counted and a cancelled stream is an abort', async (t) => {
  const app = Fastify({ http2: true })
  await app.register(serverWatch)
  const arrived = gate<Http2ServerRequest>()
  const released = gate()
  app.get('/', async () => 'ok')
  app.get('/slow', async (request) => { arrived.open(request.raw); await released.promise; return 'late' })
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
  const raw = await arrived.promise
  t.equal(app.serverWatch.snapshot().application.inFlight, 1)
  slow.close()
  await new Promise((resolve) => raw.stream.once('close', resolve))
  released.open()
  await until(() => app.serverWatch.snapshot().application.inFlight === 0, 'the cancelled stream to be recorded')
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
  await until(() => app.serverWatch.snapshot().application.inFlight === 0, 'the streams to close')
  const { application } = app.serverWatch.snapshot()
  t.equal(application.inFlight, 0)
  t.equal(application.aborted, 0)
  t.equal(application.totalRequests, 0)
})

test('requests that time out are counted', async (t) => {
  const app = Fastify({ connectionTimeout: 100 })
  await app.register(serverWatch)
  // Answers only after the test: the connection's 100 ms timeout comes first, however slow the machine.
  const released = gate()
  app.get('/stuck', async () => { await released.promise; return 'too late' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  t.teardown(() => released.open())
  const { port } = app.server.address() as AddressInfo
  await new Promise<void>((resolve) => {
    const client = httpRequest({ port, host: '127.0.0.1', path: '/stuck' }, (response) => { response.resume(); response.on('end', resolve) })
    client.on('error', () => resolve())
    client.end()
  })
  await until(() => app.serverWatch.snapshot().application.timedOut === 1, 'the timeout to be recorded')
  t.equal(app.serverWatch.snapshot().application.timedOut, 1)
})

test('a streamed response that stalls until the connection times out is counted as timed out', async (t) => {
  const app = Fastify({ connectionTimeout: 100 })
  await app.register(serverWatch)
  const released = gate()
  app.get('/stall', async (_request, reply) => reply.type('text/plain').send(Readable.from((async function * () {
    yield 'first chunk\n'
    await released.promise
    yield 'too late\n'
  })())))
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  t.teardown(() => released.open())
  const { port } = app.server.address() as AddressInfo
  await new Promise<void>((resolve) => {
    const client = httpRequest({ port, host: '127.0.0.1', path: '/stall' }, (response) => {
      response.resume()
      response.on('end', resolve).on('error', () => resolve()).on('close', resolve)
    })
    client.on('error', () => resolve())
    client.end()
  })
  await until(() => app.serverWatch.snapshot().application.inFlight === 0, 'the timed-out stream to be recorded')
  const { application } = app.serverWatch.snapshot()
  t.equal(application.timedOut, 1)
  t.equal(application.aborted, 1, 'the stream never ended: an abort as well')
  t.equal(application.inFlight, 0)
})

test('without a connectionTimeout no onTimeout hook is added: it could never fire', async (t) => {
  const hooksOf = async (app: FastifyInstance) => {
    await app.register(serverWatch)
    app.get('/route', async () => 'ok')
    t.teardown(() => app.close())
    await app.ready()
    return app.printRoutes({ includeHooks: true, commonPrefix: false })
  }
  t.notMatch(await hooksOf(Fastify()), /onTimeout/, 'no per-request timeout bookkeeping by default')
  t.match(await hooksOf(Fastify({ connectionTimeout: 1000 })), /\/route \(GET\)\n.*• \(onTimeout\)/, 'added when the server can time out')
})
