import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import Fastify from 'fastify'
import { Value } from '@sinclair/typebox/value'
import serverWatch, { HealthSnapshotSchema } from '../lib/plugin.js'
import { formatUptime } from '../lib/format.js'
import { Sampler } from '../lib/sampler.js'
import { healthStatus } from '../lib/watch.js'
import { createSystemCollector } from '../lib/collectors/system.js'
import { buildApp } from './helpers/app.js'
import { fakeClock, turn } from './helpers/time.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

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
  t.equal(healthStatus({ a: pass }, { status: 'not_configured' }), 'healthy')
  t.equal(healthStatus({ a: fail }, { status: 'healthy' }), 'unhealthy')
  t.equal(healthStatus({ a: { ...fail, required: false } }, { status: 'healthy' }), 'degraded')
  t.equal(healthStatus({}, { status: 'unhealthy', required: true }), 'unhealthy')
  t.equal(healthStatus({}, { status: 'unhealthy', required: false }), 'degraded')
  // issue 15.1: a check with no result yet is not passing.
  t.equal(healthStatus({ a: { ...pass, status: 'pending' } }, { status: 'healthy' }), 'unhealthy')
  t.equal(healthStatus({ a: { ...pass, status: 'pending', required: false } }, { status: 'healthy' }), 'degraded')
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

test('the sampler never overlaps samples, re-arms one timer after each sample and stops on close', async (t) => {
  const clock = fakeClock(t)
  const started = performance.now()
  let running = 0
  let maxRunning = 0
  let samples = 0
  const sampler = new Sampler(10, async () => {
    running++
    maxRunning = Math.max(maxRunning, running)
    await new Promise((resolve) => setTimeout(resolve, 30))
    samples++
    running--
  }, { warn () {} })
  sampler.start()
  sampler.start()
  await Promise.all([sampler.sample(), sampler.sample(), clock.tickAsync(30)])
  t.equal(samples, 1, 'start() and the concurrent sample() calls shared the first sample')
  // Each sample takes 30 ms and the next starts 10 ms after it ends: one every 40 ms, never two at once.
  await clock.tickAsync(215)
  t.equal(maxRunning, 1, 'one sample at a time, even when a sample is slower than the interval')
  t.equal(samples, 6, 'samples ended at 30, 70, 110, 150, 190 and 230 ms')
  t.equal(sampler.nextDueAt() - started, 240, 'the one running now was due 10 ms after the last ended')
  sampler.close()
  const after = samples
  await clock.tickAsync(1000)
  t.equal(samples - after, 1, 'only the sample in flight finishes after close')
  t.equal(clock.countTimers(), 0, 'no timer left')
})

test('issue 15.7: a sample that rejects does not stop the loop: it re-arms every time and logs once until it recovers', async (t) => {
  const clock = fakeClock(t)
  const warnings: unknown[] = []
  const log = { warn: (obj: object, message: string) => { warnings.push([obj, message]) } }
  let fail = true
  let calls = 0
  const sampler = new Sampler(1000, () => { calls++; return fail ? Promise.reject(new Error('sample exploded')) : Promise.resolve() }, log)
  t.teardown(() => sampler.close())
  sampler.start()
  await clock.tickAsync(0)
  t.equal(calls, 1, 'the first sample, at start')
  await clock.tickAsync(1000)
  t.equal(calls, 2, 'the loop re-armed after it rejected')
  await clock.tickAsync(1000)
  t.equal(calls, 3, 'and again')
  t.equal(warnings.length, 1, 'logged once, not once a sample')
  t.match(warnings[0], [{ err: { message: 'sample exploded' } }, /sampling loop/])
  fail = false
  await clock.tickAsync(1000)
  fail = true
  await clock.tickAsync(1000)
  t.equal(calls, 5)
  t.equal(warnings.length, 2, 'a new failure after a recovery is logged again')
})

test('app.close() stops the loop: no timer is left and no sample runs after it', async (t) => {
  const clock = fakeClock(t)
  let calls = 0
  const app = await buildApp({ sampleIntervalMs: 10, checks: { counted: () => { calls++ } } })
  await app.ready()
  await app.serverWatch.refresh()
  t.ok(calls >= 1)
  await app.close()
  t.equal(clock.countTimers(), 0, 'no timer left pending')
  const after = calls
  // Had the loop survived close(), a 10 ms interval would have run a hundred samples by then.
  await clock.tickAsync(1000)
  await turn()
  t.equal(calls, after)
})

test('the sampling loop does not keep the process alive: an app never closed still exits', async (t) => {
  // A child process registers the plugin (the built package), starts it, and forgets it.
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    import Fastify from 'fastify'
    import serverWatch from 'fastify-server-watch'
    const app = Fastify()
    await app.register(serverWatch, { sampleIntervalMs: 10 })
    await app.ready()
    await app.serverWatch.refresh()
    console.log('ready')
  `], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  // A process kept alive would be stopped by tap's timeout: the exit is what is under test, not how soon.
  const code = await new Promise((resolve) => child.on('exit', resolve))
  t.equal(output.trim(), 'ready')
  t.equal(code, 0, 'exited by itself')
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
