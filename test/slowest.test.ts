import t from 'tap'
import Fastify, { type FastifyRequest } from 'fastify'
import { Value } from '@sinclair/typebox/value'
import { createRequestHooks } from '../lib/requests/hooks.js'
import { RequestMetrics } from '../lib/requests/store.js'
import { SLOWEST_WINDOW_MS, SlowestRequests } from '../lib/collectors/slowest.js'
import { ApplicationSchema } from '../lib/schemas/health.js'
import { buildApp, sleep } from './helpers/app.js'

const request = (url: string, method = 'GET') => ({ url, method }) as FastifyRequest

t.test('SlowestRequests: the N slowest of the window, in fixed slots, with a threshold that rises as they fill', async (t) => {
  let now = 1_000_000
  const slowest = new SlowestRequests(3, 60_000, () => now)
  t.equal(slowest.threshold, 0)
  slowest.capture(request('/a?token=secret'), '/a', 200, 5)
  slowest.capture(request('/b'), '/b', 500, 9)
  t.equal(slowest.threshold, 0, 'slots left: anything is a candidate')
  slowest.capture(request('/c', 'POST'), '/c', 201, 7)
  t.equal(slowest.threshold, 5, 'full: only a request slower than the fastest kept')
  slowest.capture(request('/d'), '/d', 200, 20)
  t.equal(slowest.threshold, 7)
  slowest.capture(request('/e'), '/e', 200, 6) // slower than nothing kept: not taken even if called
  t.same(slowest.read(now).map((entry) => entry.path), ['/d', '/b', '/c'])
  t.same(slowest.read(now)[1], { timestamp: new Date(now).toISOString(), method: 'GET', route: '/b', path: '/b', statusCode: 500, durationMs: 9 })

  now += 30_000
  slowest.capture(request('/f'), '/f', 200, 8)
  slowest.tick(now, 2)
  t.equal(slowest.threshold, 8, 'the floor (p99) is lower than the fastest kept')
  now += 30_000
  t.same(slowest.read(now).map((entry) => entry.path), ['/f'], 'older than the window: not read')
  slowest.tick(now, 2)
  t.equal(slowest.threshold, 2, 'expired entries free their slots: the floor is the threshold again')
  slowest.tick(now, null)
  t.equal(slowest.threshold, 0, 'no requests yet: no floor')
  t.equal(SLOWEST_WINDOW_MS, 300_000)
})

t.test('a deliberately slow route tops the list; ordinary requests build nothing once the list is full', async (t) => {
  const metrics = new RequestMetrics(10, 5, 100)
  const hooks = createRequestHooks(metrics)
  const app = Fastify()
  app.addHook('onRequest', hooks.onRequest)
  app.addHook('onSend', hooks.onSend)
  app.get('/fast', async () => 'ok')
  app.get('/slow/:id', async () => { await sleep(120); return 'late' })
  t.teardown(() => app.close())

  let captured = 0
  const capture = metrics.slowest.capture
  metrics.slowest.capture = function (...args) { captured++; return capture.apply(this, args) }
  for (let i = 0; i < 30; i++) await app.inject('/fast')
  t.ok(captured >= 10 && captured < 30, `until the list is full, every response is a candidate; then only those slower than the fastest kept (${captured} of 30)`)
  metrics.tick(Date.now())
  t.ok(metrics.slowest.threshold > 0, 'the threshold is the p99 (or the fastest kept)')
  captured = 0
  await app.inject('/slow/7?token=abc')
  t.equal(captured, 1)
  captured = 0
  // Responses in the same time range as those kept may still be candidates; many faster ones are not.
  for (let i = 0; i < 200; i++) await app.inject('/fast')
  t.ok(captured < 20, `ordinary requests are rarely looked at (${captured} of 200)`)

  const [top] = metrics.snapshot(Date.now()).slowestRequests
  t.match(top, { method: 'GET', route: '/slow/:id', path: '/slow/7', statusCode: 200 })
  t.ok(top!.durationMs >= 110, `its duration (${top!.durationMs} ms)`)
  t.notOk(JSON.stringify(metrics.snapshot(Date.now())).includes('token=abc'), 'the query string is never kept')
})

t.test('application.slowestRequests in the snapshot and in /health, with its schema', async (t) => {
  const app = await buildApp()
  app.get('/report', async () => { await sleep(80); return 'done' })
  t.teardown(() => app.close())
  await app.ready()
  await app.inject('/')
  await app.inject('/report?year=2026')
  await app.inject('/teapot')
  const { application } = app.serverWatch.snapshot()
  t.ok(Value.Check(ApplicationSchema, application), 'valid against the schema')
  // Whether '/' and '/teapot' are kept depends on a sample in between (the p99 floor): the slow one always is.
  t.ok(application.slowestRequests.length >= 1 && application.slowestRequests.length <= 3)
  t.match(application.slowestRequests[0], { method: 'GET', route: '/report', path: '/report', statusCode: 200 })
  const health = (await app.inject('/health')).json()
  t.same(health.application.slowestRequests.map((entry: { path: string }) => entry.path), application.slowestRequests.map((entry) => entry.path))
})
