import t from 'tap'
import Fastify, { type FastifyRequest } from 'fastify'
import { Value } from '@sinclair/typebox/value'
import { createRequestHooks } from '../../lib/requests/hooks.js'
import { RequestMetrics } from '../../lib/requests/store.js'
import { SLOWEST_WINDOW_MS, SlowestRequests } from '../../lib/collectors/slowest.js'
import { ApplicationSchema } from '../../lib/schemas/health.js'
import { buildApp } from '../helpers/app.js'
import { fakeClock } from '../helpers/time.js'

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
  const clock = fakeClock(t)
  const metrics = new RequestMetrics(10, 5, 100)
  const hooks = createRequestHooks(metrics)
  const app = Fastify()
  app.addHook('onRequest', hooks.onRequest)
  app.addHook('onSend', hooks.onSend)
  // performance.now() is faked: a handler takes exactly the time it moves the clock by.
  app.get('/fast', async () => { clock.tick(1); return 'ok' })
  app.get('/slow/:id', async () => { clock.tick(120); return 'late' })
  t.teardown(() => app.close())

  let captured = 0
  const capture = metrics.slowest.capture
  metrics.slowest.capture = function (...args) { captured++; return capture.apply(this, args) }
  for (let i = 0; i < 30; i++) await app.inject('/fast')
  t.equal(captured, 10, 'until the list (10) is full, every response is a candidate; then only those slower than the fastest kept')
  metrics.tick(Date.now())
  t.ok(metrics.slowest.threshold > 0, 'the threshold is the p99 (or the fastest kept)')
  captured = 0
  await app.inject('/slow/7?token=abc')
  t.equal(captured, 1)
  captured = 0
  // Each takes 1 ms, no slower than the fastest kept: none is a candidate.
  for (let i = 0; i < 200; i++) await app.inject('/fast')
  t.equal(captured, 0, 'ordinary requests are not looked at')

  const [top] = metrics.snapshot(Date.now()).slowestRequests
  t.match(top, { method: 'GET', route: '/slow/:id', path: '/slow/7', statusCode: 200 })
  t.equal(top!.durationMs, 120, 'its duration')
  t.notOk(JSON.stringify(metrics.snapshot(Date.now())).includes('token=abc'), 'the query string is never kept')
})

t.test('application.slowestRequests in the snapshot and in /health, with its schema', async (t) => {
  const clock = fakeClock(t)
  // No sample in between (the p99 floor would change): the loop samples once, at start.
  const app = await buildApp({ sampleIntervalMs: 3_600_000 })
  app.get('/report', async () => { clock.tick(80); return 'done' })
  t.teardown(() => app.close())
  await app.ready()
  await app.inject('/')
  await app.inject('/report?year=2026')
  await app.inject('/teapot')
  const { application } = app.serverWatch.snapshot()
  t.ok(Value.Check(ApplicationSchema, application), 'valid against the schema')
  // '/' and '/teapot' take no time on the fake clock: not slow at all, so not kept.
  t.same(application.slowestRequests.map((entry) => [entry.path, entry.durationMs]), [['/report', 80]])
  t.match(application.slowestRequests[0], { method: 'GET', route: '/report', path: '/report', statusCode: 200, durationMs: 80 })
  const health = (await app.inject('/health')).json()
  t.same(health.application.slowestRequests.map((entry: { path: string }) => entry.path), application.slowestRequests.map((entry) => entry.path))
})
