// The entry point (lib/plugin.ts): its exports, the decorator, and what register and close leave behind.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import Fastify from 'fastify'
import serverWatch, * as entry from '../lib/plugin.js'
import { buildApp } from './helpers/app.js'
import { withEnv } from './helpers/env.js'
import { fakeClock, turn, until } from './helpers/time.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

test('exports: default and named plugin, error classes, schema', async (t) => {
  t.equal(entry.default, entry.serverWatch)
  t.equal(typeof serverWatch, 'function')
  t.equal((serverWatch as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')], 'fastify-server-watch')
  t.equal(new entry.FST_SERVER_WATCH_INVALID_OPTION('x', 'y', 'z').code, 'FST_SERVER_WATCH_INVALID_OPTION')
  t.equal(typeof entry.HealthSnapshotSchema, 'object')
})

test('issue 27.6: the package exports the coded errors, not the internal sendRefusal', async (t) => {
  const names = Object.keys(entry)
  t.notOk(names.includes('sendRefusal'), 'sendRefusal lives in lib/refusal.ts, which the package does not export')
  const errors = names.filter((name) => name.startsWith('FST_SERVER_WATCH_'))
  const declared = Object.keys(await import('../lib/errors.js')).filter((name) => name.startsWith('FST_SERVER_WATCH_'))
  t.same(errors.sort(), declared.sort(), 'every coded error of lib/errors.ts is exported')
  t.ok(errors.length > 10)
  for (const name of errors) t.equal(new (entry as unknown as Record<string, new (...args: unknown[]) => Error & { code: string }>)[name]!().code, name)
})

test('issue 27.5: a connectionTimeout adds the onTimeout hook and makes the store count timeouts from its construction', async (t) => {
  for (const connectionTimeout of [0, 1000]) {
    const app = Fastify({ connectionTimeout })
    await app.register(serverWatch, { sampleIntervalMs: 3_600_000 })
    app.get('/', () => 'ok')
    await app.ready()
    t.equal(app.printRoutes({ includeHooks: true }).includes('onTimeout'), connectionTimeout > 0, `connectionTimeout ${connectionTimeout}: onTimeout hook`)
    const metrics = (await app.inject('/metrics')).body
    t.equal(metrics.includes('http_requests_timed_out_total'), connectionTimeout > 0, `connectionTimeout ${connectionTimeout}: the timed-out series`)
    await app.close()
  }
})

test('the built package resolves for ESM and CommonJS consumers', async (t) => {
  const require = createRequire(import.meta.url)
  const cjs = require('fastify-server-watch')
  t.equal(typeof cjs.default, 'function', 'require(esm) gives the module namespace')
  t.equal(cjs.default, cjs.serverWatch)
  const esm = await import('fastify-server-watch')
  t.equal(esm.default, esm.serverWatch)
})

test('the decorator is read-only and typed', async (t) => {
  const clock = fakeClock(t)
  // The fake clock's loop, every 50 ms.
  const app = await buildApp({ sampleIntervalMs: 50 })
  t.teardown(() => app.close())
  await app.ready()
  t.ok(Object.isFrozen(app.serverWatch))
  t.throws(() => { (app.serverWatch as { snapshot: unknown }).snapshot = null })
  t.equal(app.serverWatch.status(), 'healthy')
  await app.serverWatch.refresh()
  const points: number[] = []
  const unsubscribe = app.serverWatch.onSample((point) => points.push(point.timestamp))
  await clock.tickAsync(50) // the loop's next sample
  t.same(points, [Date.now()], 'onSample is called after a sample, with its point')
  unsubscribe()
  await clock.tickAsync(50)
  await app.serverWatch.refresh()
  t.equal(points.length, 1, 'not after unsubscribing')
  const history = app.serverWatch.history('5m')
  t.equal(history.range, '5m')
  t.equal(history.stepMs, 50)
  // A refresh() that comes while a sample runs takes one more after it, so that what came before it is counted.
  t.same(history.timestamps.map((at) => at - history.timestamps[0]!), [0, 0, 50, 100, 100],
    'a point per sample: start and the refresh after it, the loop at 50, the loop and a refresh at 100')
  t.equal(history.series.rss.length, history.timestamps.length)
})

test('app.close() leaves no timer, socket or handle behind', async (t) => {
  const handles = () => (process as unknown as { _getActiveHandles (): unknown[] })._getActiveHandles().length
  const before = handles()
  const app = await buildApp({ sampleIntervalMs: 10, checks: { ok: () => true } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  await app.inject('/')
  await app.serverWatch.refresh()
  await app.close()
  // A closed server's handles go on the loop's next turns: waited for, not timed.
  await until(() => handles() === before, 'the handles to close')
  t.equal(handles(), before)
})

test('registering in production without token or authorize logs a warning', async (t) => {
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => { lines.push(line) } } } })
  t.teardown(() => app.close())
  await withEnv({ NODE_ENV: 'production' }, async () => { await app.register(serverWatch) })
  t.ok(lines.some((line) => line.includes('closed to everyone. Set SERVER_WATCH_TOKEN')), 'warned')
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
