// What the request store (lib/requests/store.ts) counts: keys by route pattern, status codes, errors, latencies,
// its bounds; through app.inject(), on fake timers where time matters.
import { test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { RequestMetrics } from '../../lib/requests/store.js'
import { EndpointTable, NOT_FOUND_KEY, OVERFLOW_KEY } from '../../lib/requests/endpoint.js'
import { Tally } from '../../lib/shared/tally.js'
import serverWatch from '../../lib/plugin.js'
import { buildApp } from '../helpers/app.js'
import { fakeClock } from '../helpers/time.js'

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
  // performance.now() is faked: each handler takes exactly the time it moves the clock by.
  const clock = fakeClock(t)
  const app = Fastify()
  await app.register(serverWatch, { sampleIntervalMs: 1000 })
  app.get('/work/:ms', async (request) => {
    clock.tick(Number((request.params as { ms: string }).ms))
    return { ok: true }
  })
  t.teardown(() => app.close())
  for (let i = 0; i < 19; i++) await app.inject('/work/2')
  await app.inject('/work/120')
  await app.inject('/work/4')
  const { application } = app.serverWatch.snapshot()
  // Percentiles are the histogram's estimates (a little above the value, within its bucket); average and max exact.
  const expected = { count: 21, errorCount: 0, averageResponseTimeMs: 7.714, p50: 2.05, p95: 4.05, p99: 120, max: 120 }
  t.same(application.endpoints['GET /work/:ms'], expected, 'the route: 19 of 2 ms, one of 4 ms, one of 120 ms')
  t.equal(application.averageResponseTimeMs, 7.714, '(19 * 2 + 4 + 120) / 21')
  t.same(application.responseTimeMs, { p50: 2.05, p95: 4.05, p99: 120, max: 120 })
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

test('requestsPerSecond covers the recent window', async (t) => {
  const clock = fakeClock(t)
  const app = await buildApp({ sampleIntervalMs: 100 })
  t.teardown(() => app.close())
  await app.ready()
  await app.serverWatch.refresh()
  for (let i = 0; i < 50; i++) await app.inject('/')
  clock.tick(250)
  await app.serverWatch.refresh()
  t.equal(app.serverWatch.snapshot().application.requestsPerSecond, 200, '50 requests over the 0.25 s since the first sample')
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

test('issue 27: one Endpoint and one overflow rule for this process\'s store and the fleet\'s sum', async (t) => {
  const table = new EndpointTable(2)
  const a = table.endpointFor('GET', '/a')
  t.equal(table.endpointFor('GET', '/a'), a, 'one endpoint per key')
  table.endpointFor('GET', '/b')
  t.equal(table.endpointFor('GET', '/c'), table.overflow, 'past maxRoutes: the overflow')
  t.equal(table.endpointFor('*', OVERFLOW_KEY, OVERFLOW_KEY), table.overflow, 'a folded overflow adds into the overflow')
  t.equal(table.endpointFor('*', NOT_FOUND_KEY, NOT_FOUND_KEY), table.notFound)
  t.same(table.all().map((endpoint) => endpoint.key), ['GET /a', 'GET /b', NOT_FOUND_KEY, OVERFLOW_KEY], 'the not-found and overflow endpoints last')

  // The store and a fleet's Tally hold the same Endpoint class and overflow key.
  const store = new RequestMetrics(1, 10, 100)
  store.record(store.endpointFor('GET', '/x'), 200, 3)
  store.record(store.endpointFor('GET', '/y'), 200, 3)
  const fleet = new Tally(1)
  for (const endpoint of store.allEndpoints()) fleet.endpoint(endpoint.method, endpoint.route, endpoint.key).count += endpoint.count
  fleet.endpoint('GET', '/z', 'GET /z').count += 5
  t.same(fleet.allEndpoints().map((endpoint) => [endpoint.key, endpoint.count]), [['GET /x', 1], [NOT_FOUND_KEY, 0], [OVERFLOW_KEY, 6]])
  t.equal(fleet.find('GET /x')!.constructor, store.endpoints.get('GET /x')!.constructor)
})
