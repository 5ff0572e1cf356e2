import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { test, type Test } from 'tap'
import { Value } from '@sinclair/typebox/value'
import serverWatch, { HealthSnapshotSchema } from '../../lib/plugin.js'
import { buildApp } from '../helpers/app.js'
import { withEnv } from '../helpers/env.js'
import { PROMTOOL, promtool, samples } from '../helpers/prometheus.js'

// One process with `shared` (the multi-process behaviour is in shared-cluster and shared-pm2): what a restart keeps,
// what the routes serve, and the failures at register. Samples are taken with refresh(), never waited for.

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'sw-plugin-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const json = (body: string) => JSON.parse(body)

test('a single process with shared: its file, its row, and /health unchanged otherwise', async (t) => {
  const dir = tempDir(t)
  // A 1 s interval, so that the five-minute history holds a point per sample (one hour's interval: one point).
  const app = await buildApp({ shared: { dir, name: 'shop' }, sampleIntervalMs: 1000 })
  t.teardown(() => app.close())
  await app.ready()
  for (let i = 0; i < 5; i++) await app.inject(`/users/${i}`)
  await app.inject('/fail')
  await app.serverWatch.refresh()
  const files = readdirSync(dir)
  t.equal(files.filter((name) => name.startsWith('shop~p~')).length, 1, 'one state file, named for the app')
  const health = json((await app.inject('/health')).body)
  t.equal(health.application.totalRequests, 6)
  t.equal(health.application.errorCount, 1)
  t.equal(health.application.endpoints['GET /users/:id'].count, 5)
  t.equal(health.processes.length, 1)
  t.match(health.processes[0], { pid: process.pid, self: true, totalRequests: 6, status: 'healthy', workerId: null })
  t.equal(health.fleet.processes, 1)
  t.same([...Value.Errors(HealthSnapshotSchema, health)].map((error) => `${error.path}: ${error.message}`), [], 'the snapshot, processes and fleet included, matches its schema')
  t.equal(health.application.recentErrors[0].route, '/fail', 'recent errors go through the file')

  const one = await app.inject(`/dashboard/api/history?range=5m&process=${encodeURIComponent(health.processes[0].id)}`)
  t.equal(one.statusCode, 200)
  const points = json(one.body).timestamps.length
  t.ok(points >= 1 && points <= app.serverWatch.history('5m').timestamps.length, `one process's last five minutes, a point per sample (${points})`)
  t.equal(json(one.body).series.rss.length, points)
  t.type(json(one.body).series.rss[0], 'number')
  t.equal(json(one.body).series.p50Ms[0], null, 'series a process file does not carry are null')
  t.equal((await app.inject('/dashboard/api/history?range=5m&process=nope')).statusCode, 404)

  const metrics = await app.inject('/metrics')
  t.equal(samples(metrics.body, 'server_watch_processes').get(''), 1)
  t.equal([...samples(metrics.body, 'http_requests_total').values()].reduce((a, b) => a + b, 0), 6)
  t.equal(samples(metrics.body, 'process_cpu_seconds_total').size, 0, 'the answering process\'s own series are left out')
  t.ok(samples(metrics.body, 'process_resident_memory_bytes').get('')! > 0, 'memory summed over live processes')
  if (existsSync(PROMTOOL)) t.equal(promtool(metrics.body).output, '')
})

test('a restart keeps the counters and the history: the old file is folded, the history file read back', async (t) => {
  const dir = tempDir(t)
  // A 1 s interval, so that the five-minute history holds a point per sample (one hour's interval: one point).
  const first = await buildApp({ shared: { dir }, sampleIntervalMs: 1000 })
  await first.ready()
  for (let i = 0; i < 4; i++) await first.inject(`/users/${i}`)
  for (let i = 0; i < 3; i++) await first.serverWatch.refresh()
  const before = first.serverWatch.history('5m').timestamps
  t.ok(before.length >= 3, `${before.length} points`)
  await first.inject('/') // after the last sample: written on close
  await first.close()
  t.ok(readdirSync(dir).some((name) => name.endsWith('~history.json')), 'the history was written on close')

  const second = await buildApp({ shared: { dir }, sampleIntervalMs: 1000 })
  t.teardown(() => second.close())
  await second.ready()
  t.same(second.serverWatch.history('5m').timestamps.slice(0, before.length), before, 'the earlier points are back before the first sample')
  await second.inject('/')
  await second.serverWatch.refresh()
  await second.serverWatch.refresh()
  const health = json((await second.inject('/health')).body)
  t.equal(health.application.totalRequests, 6, '5 before the restart (one after the last sample), 1 after')
  t.equal(health.processes.length, 1, 'the former process (same pid, another life) is not listed')
  t.equal(readdirSync(dir).filter((name) => name.includes('~p~')).length, 1, 'its file is folded and gone')
})

test('SERVER_WATCH_DIR turns shared mode on without code; `shared: false` keeps it off', async (t) => {
  const dir = tempDir(t)
  const on = await withEnv({ SERVER_WATCH_DIR: dir }, () => buildApp())
  t.teardown(() => on.close())
  await on.ready()
  await on.serverWatch.refresh()
  t.equal(json((await on.inject('/health')).body).processes.length, 1)
  const off = await withEnv({ SERVER_WATCH_DIR: dir }, () => buildApp({ shared: false }))
  t.teardown(() => off.close())
  await off.ready()
  await off.serverWatch.refresh()
  t.equal(json((await off.inject('/health')).body).processes, undefined)
})

test('a missing, a non-directory, or an unwritable shared directory fails at register and names it', async (t) => {
  const dir = tempDir(t)
  const missing = join(dir, 'missing')
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => { await app.register(serverWatch, { shared: { dir: missing } }) }, { code: 'FST_SERVER_WATCH_SHARED_DIR', message: new RegExp(`"shared.dir" option names "${missing}"`) })
  writeFileSync(join(dir, 'file'), '')
  const app2 = Fastify()
  t.teardown(() => app2.close())
  // Under a file: no directory can be there, whoever runs the test (root writes through permission bits).
  await t.rejects(async () => { await app2.register(serverWatch, { shared: { dir: join(dir, 'file', 'sub') } }) }, { code: 'FST_SERVER_WATCH_SHARED_DIR', message: /ENOTDIR/ })
})

test('the shared directory removed at run time: the sample goes on without the fleet, one warning, the fleet back when it is', async (t) => {
  const dir = tempDir(t)
  const warnings: string[] = []
  const app = await buildApp({ shared: { dir } })
  t.teardown(() => app.close())
  const warn = app.log.warn.bind(app.log)
  app.log.warn = ((obj: unknown, msg?: string) => { warnings.push(typeof obj === 'string' ? obj : String(msg)); warn(obj as object, msg) }) as typeof app.log.warn
  await app.ready()
  await app.inject('/users/1')
  await app.serverWatch.refresh()
  t.equal(json((await app.inject('/health')).body).processes.length, 1)
  rmSync(dir, { recursive: true, force: true })
  await app.inject('/users/2')
  await t.resolves(app.serverWatch.refresh(), 'the sample does not fail: alerts and the live stream go on')
  await app.serverWatch.refresh()
  const health = json((await app.inject('/health')).body)
  t.equal(health.processes, undefined, 'no frozen fleet: this process\'s figures alone')
  t.equal(health.application.totalRequests, 2)
  t.equal(warnings.filter((msg) => msg.includes('shared directory')).length, 1, 'one warning, not one per sample')
  mkdirSync(dir)
  await app.serverWatch.refresh()
  t.equal(json((await app.inject('/health')).body).processes.length, 1, 'the fleet is back')
})

test('readiness is each process\'s own: a worker whose required check fails takes itself out, not the others, while /health reports the fleet', async (t) => {
  const dir = tempDir(t)
  const healthy = await buildApp({ shared: { dir, name: 'shop' } })
  const failing = await buildApp({ shared: { dir, name: 'shop' }, checks: { db: { check: () => { throw new Error('down') } } } })
  t.teardown(() => Promise.all([healthy.close(), failing.close()]))
  await Promise.all([healthy.ready(), failing.ready()])
  await failing.serverWatch.refresh()
  await healthy.serverWatch.refresh()
  t.equal((await healthy.inject('/health')).statusCode, 503, 'the fleet is unhealthy: a required check fails in a live process')
  t.same(json((await healthy.inject('/health/ready')).body), { status: 'pass' }, 'the healthy worker stays ready')
  t.equal((await healthy.inject('/health/ready')).statusCode, 200)
  t.equal((await failing.inject('/health/ready')).statusCode, 503, 'the failing one is not')
})

test('issue 27: shared mode\'s /metrics counts timeouts as a single process does (the fleet view is a RequestCounters, no cast)', async (t) => {
  const dir = tempDir(t)
  const app = await buildApp({ shared: { dir, name: 'shop' }, sampleIntervalMs: 3_600_000 }, { connectionTimeout: 1000 })
  t.teardown(() => app.close())
  await app.ready()
  await app.inject('/')
  await app.serverWatch.refresh()
  await app.serverWatch.refresh()
  const metrics = (await app.inject('/metrics')).body
  t.equal(samples(metrics, 'server_watch_processes').get(''), 1, 'the fleet\'s exposition')
  t.equal(samples(metrics, 'http_requests_timed_out_total').get(''), 0, 'the timeout counter is there, as in single-process mode')
})
