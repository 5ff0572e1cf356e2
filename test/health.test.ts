import { test } from 'tap'
import Fastify from 'fastify'
import { Value } from '@sinclair/typebox/value'
import serverWatch, { HealthSnapshotSchema } from '../lib/plugin.js'
import { formatUptime } from '../lib/format.js'
import { Sampler } from '../lib/sampler.js'
import { healthStatus } from '../lib/watch.js'
import type { DatabaseSnapshot } from '../lib/schemas/database.js'
import { createSystemCollector } from '../lib/collectors/system.js'
import { buildApp, sleep } from './helpers/app.js'

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
    sampleIntervalMs: 20,
    checks: { hangs: { check: () => { calls++; return new Promise<void>((resolve) => { settle = resolve }) }, timeoutMs: 20 } }
  })
  t.teardown(() => app.close())
  await app.ready()
  await sleep(200)
  t.equal(calls, 1, 'one pending call, not one per sample')
  t.match(app.serverWatch.snapshot().checks.hangs, { status: 'fail', error: /still pending/ })
  settle()
  await sleep(100)
  t.ok(calls > 1, 'called again once it settled')
})

test('a hanging required check turns /health into a 503 within checkTimeoutMs plus one sample interval', async (t) => {
  let hang = false
  const app = await buildApp({
    sampleIntervalMs: 100,
    checkTimeoutMs: 150,
    checks: { upstream: () => hang ? new Promise(() => {}) : true }
  })
  t.teardown(() => app.close())
  await app.ready()
  await app.serverWatch.refresh()
  t.equal((await app.inject('/health')).statusCode, 200)
  hang = true
  const started = Date.now()
  let response = await app.inject('/health')
  while (response.statusCode === 200 && Date.now() - started < 2000) {
    await sleep(10)
    response = await app.inject('/health')
  }
  const elapsed = Date.now() - started
  t.equal(response.statusCode, 503)
  t.equal(response.json().status, 'unhealthy')
  t.match(response.json().checks.upstream, { status: 'fail', required: true, error: 'timed out after 150 ms' })
  // Allow one sample already in flight when the check started hanging, and scheduling slack.
  t.ok(elapsed <= 150 + 100 + 150 + 100, `503 after ${elapsed} ms`)
  const fast = Date.now()
  await app.inject('/health')
  t.ok(Date.now() - fast < 100, '/health itself does not wait for the check')
})

test('health status: required failures are unhealthy, optional ones degraded, the database counts', async (t) => {
  const pass = { status: 'pass', required: true, durationMs: 1, lastCheckedAt: null } as const
  const fail = { status: 'fail', required: true, durationMs: 1, lastCheckedAt: null } as const
  t.equal(healthStatus({ a: pass }, { status: 'not_configured' }), 'healthy')
  t.equal(healthStatus({ a: fail }, { status: 'healthy' } as DatabaseSnapshot), 'unhealthy')
  t.equal(healthStatus({ a: { ...fail, required: false } }, { status: 'healthy' } as DatabaseSnapshot), 'degraded')
  t.equal(healthStatus({}, { status: 'unhealthy', required: true } as DatabaseSnapshot), 'unhealthy')
  t.equal(healthStatus({}, { status: 'unhealthy', required: false } as DatabaseSnapshot), 'degraded')
  // issue 15.1: a check with no result yet is not passing.
  t.equal(healthStatus({ a: { ...pass, status: 'pending' } }, { status: 'healthy' } as DatabaseSnapshot), 'unhealthy')
  t.equal(healthStatus({ a: { ...pass, status: 'pending', required: false } }, { status: 'healthy' } as DatabaseSnapshot), 'degraded')
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

test('the sampler never overlaps samples, re-arms one unref()d timer and stops on close', async (t) => {
  let running = 0
  let maxRunning = 0
  let samples = 0
  const sampler = new Sampler(10, async () => {
    running++
    maxRunning = Math.max(maxRunning, running)
    await sleep(30)
    samples++
    running--
  }, { warn () {} })
  sampler.start()
  sampler.start()
  await Promise.all([sampler.sample(), sampler.sample()])
  await sleep(200)
  t.equal(maxRunning, 1, 'one sample at a time, even when a sample is slower than the interval')
  t.ok(samples >= 3 && samples <= 8, `${samples} samples in about 230 ms`)
  t.notOk((sampler as unknown as { timer: NodeJS.Timeout }).timer.hasRef(), 'the timer does not keep the process alive')
  sampler.close()
  const after = samples
  await sleep(100)
  t.ok(samples - after <= 1, 'at most the sample in flight finishes after close')
})

test('issue 15.7: a sample that rejects does not stop the loop: it re-arms every time and logs once until it recovers', async (t) => {
  const warnings: unknown[] = []
  const log = { warn: (obj: object, message: string) => { warnings.push([obj, message]) } }
  let fail = true
  const sampler = new Sampler(60_000, () => fail ? Promise.reject(new Error('sample exploded')) : Promise.resolve(), log)
  t.teardown(() => sampler.close())
  sampler.start()
  const timer = (sampler as unknown as { timer: NodeJS.Timeout }).timer
  let rearmed = 0
  const refresh = timer.refresh.bind(timer)
  timer.refresh = () => { rearmed++; return refresh() }
  const tick = () => (sampler as unknown as { tick (): Promise<void> }).tick()
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(rearmed, 1, 'the first sample rejected and the timer was re-armed')
  await tick()
  t.equal(rearmed, 2, 'and again')
  t.equal(warnings.length, 1, 'logged once, not once a sample')
  t.match(warnings[0], [{ err: { message: 'sample exploded' } }, /sampling loop/])
  fail = false
  await tick()
  fail = true
  await tick()
  t.equal(rearmed, 4)
  t.equal(warnings.length, 2, 'a new failure after a recovery is logged again')
})

test('app.close() stops the loop: no sample runs after it', async (t) => {
  let calls = 0
  const app = await buildApp({ sampleIntervalMs: 10, checks: { counted: () => { calls++ } } })
  await app.ready()
  // Samples taken on demand rather than waited for: how many the loop takes depends on the machine's load.
  await app.serverWatch.refresh()
  await app.close()
  const after = calls
  t.ok(after >= 1)
  // Had the loop survived close(), a 10 ms interval would have run several samples by then.
  await sleep(60)
  t.ok(calls - after <= 1)
})

test('system memory: /proc on Linux, systeminformation elsewhere, with null for what it cannot tell', async (t) => {
  const warnings: string[] = []
  const log = { warn: (_obj: object, message: string) => { warnings.push(message) } }
  const portable = createSystemCollector(log, false)
  await portable.sample()
  const memory = portable.read()
  t.ok(memory.total! > 0 && memory.free! > 0 && memory.available! > 0)
  t.equal(memory.active, null, 'systeminformation has no psutil-style active')
  t.equal(memory.swap.sin, null)
  t.same(warnings, [])
  if (process.platform === 'linux') {
    const proc = createSystemCollector(log)
    await proc.sample()
    const fromProc = proc.read()
    t.equal(fromProc.total, memory.total, 'both read the same MemTotal')
    t.ok(fromProc.used! + fromProc.buffers! + fromProc.cached! <= fromProc.total! - fromProc.free!, 'used excludes the cache')
    t.ok(fromProc.shared! >= 0 && fromProc.active! > 0)
  }
})
