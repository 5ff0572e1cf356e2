import { test } from 'tap'
import Fastify from 'fastify'
import { Value } from '@sinclair/typebox/value'
import serverWatch, { HealthSnapshotSchema } from '../../lib/plugin.js'
import { formatUptime } from '../../lib/format.js'
import { healthStatus } from '../../lib/status.js'
import { buildApp } from '../helpers/app.js'
import { turn } from '../helpers/time.js'

test('GET /health serves a snapshot that validates against its schema, with every figure filled', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  await app.ready()
  await app.serverWatch.refresh()
  await app.inject('/users/1')
  await app.inject('/fail')
  const response = await app.inject('/health')
  t.equal(response.statusCode, 200)
  t.equal(response.headers['cache-control'], 'no-store')
  const body = response.json()
  const errors = [...Value.Errors(HealthSnapshotSchema, body)].map((error) => `${error.path}: ${error.message}`)
  t.same(errors, [], 'no schema errors')
  t.equal(body.status, 'healthy')
  t.same(body.database, { status: 'not_configured' })
  t.equal(body.application.totalRequests, 2)
  t.equal(body.memory.process.pid, process.pid)
  t.ok(body.memory.process.rss > 10_000_000, 'rss in bytes')
  t.ok(body.memory.process.heapUsed > 0 && body.memory.process.heapUsed <= body.memory.process.heapTotal)
  t.ok(body.memory.process.heapSpaces.length > 0 && body.memory.process.heapSpaces.length <= 5)
  t.ok(body.memory.process.heapSpaces[0].used >= body.memory.process.heapSpaces.at(-1).used, 'heap spaces by size')
  t.ok(body.memory.system.total > body.memory.system.available)
  t.ok(body.memory.system.percent > 0 && body.memory.system.percent < 100)
  t.equal(typeof body.memory.system.swap.total, 'number')
  if (process.platform === 'linux') {
    t.ok(body.memory.process.numThreads >= 1, 'threads from /proc')
    t.ok(body.memory.process.vms > body.memory.process.rss, 'vms from /proc')
    t.equal(typeof body.memory.process.openFiles, 'number')
    t.ok(body.memory.system.active > 0 && body.memory.system.inactive > 0)
    t.equal(typeof body.memory.system.swap.sin, 'number')
  }
  t.equal(body.cpu.cores >= 1, true)
  t.equal(body.cpu.loadAverage.length, 3)
  t.ok(body.eventLoop.utilization >= 0 && body.eventLoop.utilization <= 1)
  t.equal(body.instance.nodeVersion, process.version)
  t.equal(body.instance.fastifyVersion, app.version)
  t.match(body.uptime.formatted, /^(\d+d )?(\d+h )?(\d+m )?\d+s$/)
})

test('the snapshot schema rejects a snapshot with a field missing or mistyped', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  await app.ready()
  const snapshot = structuredClone(app.serverWatch.snapshot()) as Record<string, any>
  t.ok(Value.Check(HealthSnapshotSchema, snapshot))
  delete snapshot.application.errorRate
  t.notOk(Value.Check(HealthSnapshotSchema, snapshot))
  snapshot.application.errorRate = '5%'
  t.notOk(Value.Check(HealthSnapshotSchema, snapshot))
})

test('snapshot() returns what /health serves', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  await app.ready()
  await app.serverWatch.refresh()
  const body = (await app.inject('/health')).json()
  const snapshot = app.serverWatch.snapshot()
  t.same(Object.keys(body), Object.keys(snapshot))
  t.same(body.application, snapshot.application)
  t.same(body.checks, snapshot.checks)
})

test('custom checks that pass, fail, throw and hang', async (t) => {
  let calls = 0
  const app = await buildApp({
    checkTimeoutMs: 100,
    checks: {
      passes: () => { calls++; return true },
      resolves: async () => 'fine',
      rejects: { check: async () => { throw new Error('cache is cold') }, required: false },
      throws: { check: () => { throw new Error('boom') }, required: false },
      hangs: { check: () => new Promise(() => {}), required: false, timeoutMs: 50 }
    }
  })
  t.teardown(() => app.close())
  await app.ready()
  await app.serverWatch.refresh()
  const { checks, status } = app.serverWatch.snapshot()
  t.match(checks.passes, { status: 'pass', required: true })
  t.ok(checks.passes!.durationMs! >= 0)
  t.match(checks.resolves, { status: 'pass' })
  t.match(checks.rejects, { status: 'fail', required: false, error: 'cache is cold' })
  t.match(checks.throws, { status: 'fail', error: 'boom' })
  t.match(checks.hangs, { status: 'fail', error: 'timed out after 50 ms' })
  t.equal(status, 'degraded', 'only optional checks fail')
  t.equal((await app.inject('/health')).statusCode, 200)
  t.ok(calls >= 1)
})

test('a hanging check is not called again while it hangs, and reports why', async (t) => {
  let calls = 0
  let settle!: () => void
  const app = await buildApp({
    // The loop samples once at start; the test takes the others with refresh(), so each comes when it says.
    sampleIntervalMs: 3_600_000,
    checks: { hangs: { check: () => { calls++; return new Promise<void>((resolve) => { settle = resolve }) }, timeoutMs: 20 } }
  })
  t.teardown(() => app.close())
  await app.ready()
  for (let i = 0; i < 3; i++) await app.serverWatch.refresh()
  t.equal(calls, 1, 'one pending call, not one per sample')
  t.match(app.serverWatch.snapshot().checks.hangs, { status: 'fail', error: 'the previous run is still pending (timed out after 20 ms)' })
  settle()
  await turn() // the settled promise is seen a few microtasks later
  await app.serverWatch.refresh()
  t.equal(calls, 2, 'called again once it settled')
})

test('a hanging required check turns /health into a 503 at the first sample that times it out, and /health never waits for it', async (t) => {
  let hang = false
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let gated = false
  const app = await buildApp({
    sampleIntervalMs: 3_600_000,
    checkTimeoutMs: 150,
    checks: {
      upstream: () => hang ? new Promise(() => {}) : true,
      // Holds a sample open for as long as the test says: no timeout can end it first.
      gated: { check: () => gated ? gate : true, required: false, timeoutMs: 600_000 }
    }
  })
  t.teardown(() => app.close())
  await app.ready()
  await app.serverWatch.refresh()
  t.equal((await app.inject('/health')).statusCode, 200)
  hang = true
  gated = true
  let sampled = false
  const sampling = app.serverWatch.refresh().then(() => { sampled = true })
  const during = await app.inject('/health')
  t.equal(during.statusCode, 200, '/health answers from the last sample while one is running')
  t.equal(sampled, false, 'and did not wait for it')
  release()
  await sampling
  const response = await app.inject('/health')
  t.equal(response.statusCode, 503)
  t.equal(response.json().status, 'unhealthy')
  t.match(response.json().checks.upstream, { status: 'fail', required: true, error: 'timed out after 150 ms' })
  t.ok(response.json().checks.upstream.durationMs >= 149, `failed after its timeout: ${response.json().checks.upstream.durationMs} ms`)
})

test('health status: required failures are unhealthy, optional ones degraded, the database counts', async (t) => {
  const pass = { status: 'pass', required: true, durationMs: 1, lastCheckedAt: null } as const
  const fail = { status: 'fail', required: true, durationMs: 1, lastCheckedAt: null } as const
  t.equal(healthStatus({ checks: { a: pass }, database: { status: 'not_configured' } }), 'healthy')
  t.equal(healthStatus({ checks: { a: fail }, database: { status: 'healthy' } }), 'unhealthy')
  t.equal(healthStatus({ checks: { a: { ...fail, required: false } }, database: { status: 'healthy' } }), 'degraded')
  t.equal(healthStatus({ checks: {}, database: { status: 'unhealthy', required: true } }), 'unhealthy')
  t.equal(healthStatus({ checks: {}, database: { status: 'unhealthy', required: false } }), 'degraded')
  // issue 15.1: a check with no result yet is not passing.
  t.equal(healthStatus({ checks: { a: { ...pass, status: 'pending' } }, database: { status: 'healthy' } }), 'unhealthy')
  t.equal(healthStatus({ checks: { a: { ...pass, status: 'pending', required: false } }, database: { status: 'healthy' } }), 'degraded')
  // The firing alerts' severity: the worst of it and the checks'.
  t.equal(healthStatus({ checks: { a: { ...fail, required: false } }, database: { status: 'healthy' }, alerts: 'unhealthy' }), 'unhealthy')
  t.equal(healthStatus({ checks: { a: pass }, database: { status: 'not_configured' }, alerts: 'degraded' }), 'degraded')
})

test('callers that authorize denies get only the status and timestamp, with the same status code', async (t) => {
  const app = await buildApp({ authorize: () => false, checks: { down: () => { throw new Error('down') } } })
  t.teardown(() => app.close())
  await app.ready()
  await app.serverWatch.refresh()
  const response = await app.inject('/health')
  t.equal(response.statusCode, 503)
  t.same(Object.keys(response.json()).sort(), ['status', 'timestamp'])
  t.equal(response.json().status, 'unhealthy')
})

test('by default only loopback callers see the details', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const remote = await app.inject({ url: '/health', remoteAddress: '203.0.113.9' })
  t.same(Object.keys(remote.json()).sort(), ['status', 'timestamp'])
  for (const address of ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']) {
    const local = await app.inject({ url: '/health', remoteAddress: address })
    t.ok('application' in local.json(), `${address} sees the details`)
  }
})

test('routes move under a register prefix and can be turned off', async (t) => {
  const app = Fastify()
  await app.register(serverWatch, { prefix: '/ops', dashboardPath: false, metricsPath: false })
  app.get('/', async () => 'ok')
  t.teardown(() => app.close())
  t.equal((await app.inject('/ops/health')).statusCode, 200)
  t.equal((await app.inject('/health')).statusCode, 404)
  t.equal((await app.inject('/ops/dashboard')).statusCode, 404)
  const other = Fastify()
  await other.register(serverWatch, { healthPath: '/status/' })
  t.teardown(() => other.close())
  t.equal((await other.inject('/status')).statusCode, 200, 'a trailing slash in the option is dropped')
})

test('uptime is formatted like the original board', async (t) => {
  t.equal(formatUptime(7), '7s')
  t.equal(formatUptime(300), '5m 0s')
  t.equal(formatUptime(3600), '1h 0m 0s')
  t.equal(formatUptime(93_784), '1d 2h 3m 4s')
  t.equal(formatUptime(-3), '0s')
})
