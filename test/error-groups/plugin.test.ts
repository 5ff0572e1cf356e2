// Error groups, releases and Apdex through the plugin (issue 28): the snapshot's figures from real requests,
// error.new to onAlert and a webhook, and a restart on a new release in one shared directory. app.inject for HTTP;
// samples taken with refresh(); the clock faked where durations are asserted.
import { createServer } from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { test, type Test } from 'tap'
import { Value } from '@sinclair/typebox/value'
import serverWatch, { HealthSnapshotSchema } from '../../lib/plugin.js'
import type { AnyAlertEvent } from '../../lib/schemas/errors.js'
import '../helpers/app.js'
import { fakeClock, until } from '../helpers/time.js'
import { PROMTOOL, promtool, samples } from '../helpers/prometheus.js'
import { existsSync } from 'node:fs'

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'sw-errors-plugin-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

class NotFoundError extends Error {
  statusCode = 404
}
async function loadUser (id: string): Promise<never> {
  throw new NotFoundError(`user ${id} not found`)
}

test('issue 28: two throw sites and two messages differing only in ids make the expected groups with exact counts', async (t) => {
  const app = Fastify()
  await app.register(serverWatch, { sampleIntervalMs: 3_600_000, release: 'v1.2.3', alerts: false })
  app.get('/users/:id', async (request) => loadUser((request.params as { id: string }).id))
  app.get('/admin/users/:id', async (request) => loadUser((request.params as { id: string }).id))
  app.get('/orders', async () => { throw new Error('order 5f1d7a3b9c0e4a2b1c3d4e5f lost') })
  app.post('/users', { schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } } }, async () => 'ok')
  t.teardown(() => app.close())
  for (const id of [17, 17, 42]) await app.inject(`/users/${id}`)
  await app.inject('/admin/users/42')
  for (let i = 0; i < 4; i++) await app.inject('/orders')
  await app.inject({ method: 'POST', url: '/users', payload: { nom: 'a' } })
  await app.inject({ method: 'POST', url: '/users', payload: { other: 1 } })
  const snapshot = app.serverWatch.snapshot()
  const groups = snapshot.application.errorGroups
  t.same(groups.map((g) => [g.name, g.code, g.count, g.endpoints, g.statusCodes]).sort((a, b) => String(a[0]).localeCompare(String(b[0])) || (b[2] as number) - (a[2] as number)), [
    ['Error', null, 4, { 'GET /orders': 4 }, { 500: 4 }],
    ['Error', 'FST_ERR_VALIDATION', 2, { 'POST /users': 2 }, { 400: 2 }],
    ['NotFoundError', null, 4, { 'GET /users/:id': 3, 'GET /admin/users/:id': 1 }, { 404: 4 }]
  ])
  const users = groups.find((g) => g.name === 'NotFoundError')!
  t.equal(users.message, 'user 42 not found', 'the latest message')
  t.equal(users.firstRelease, 'v1.2.3')
  t.match(users.stack, /^NotFoundError: user 17 not found\n {4}at loadUser \(test\/error-groups\/plugin\.test\.ts:\d+\)/)
  t.equal(snapshot.instance.release, 'v1.2.3')
  t.same(snapshot.releases, { current: { release: 'v1.2.3', since: snapshot.releases.current.since }, previous: null, comparison: [] })
  t.same([...Value.Errors(HealthSnapshotSchema, JSON.parse((await app.inject('/health')).body))].map((e) => `${e.path}: ${e.message}`), [])

  const metrics = (await app.inject('/metrics')).body
  t.same(samples(metrics, 'server_watch_error_groups'), new Map([['', 3]]))
  t.same(samples(metrics, 'server_watch_error_groups_evicted_total'), new Map([['', 0]]))
  t.same([...samples(metrics, 'server_watch_errors_total')].sort(), [
    [`{error_group="${groups.find((g) => g.code === 'FST_ERR_VALIDATION')!.id}",error_class="Error"}`, 2],
    [`{error_group="${groups.find((g) => g.name === 'Error' && g.code === null)!.id}",error_class="Error"}`, 4],
    [`{error_group="${users.id}",error_class="NotFoundError"}`, 4]
  ].sort())
  if (existsSync(PROMTOOL)) t.equal(promtool(metrics).output, '')
})

test('issue 28: the options maxErrorGroups, release and apdexThresholdMs are checked at register', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ maxErrorGroups: -1 }, /^"maxErrorGroups" option must be an integer from 0 to 10000, got -1$/],
    [{ maxErrorGroups: 1.5 }, /^"maxErrorGroups" option must be/],
    [{ release: '' }, /^"release" option must be a string of 1 to 100 characters on one line, not blank, got ""$/],
    [{ release: 'a\nb' }, /^"release" option must be a string/],
    [{ release: 7 }, /^"release" option must be a string/],
    [{ apdexThresholdMs: 0 }, /^"apdexThresholdMs" option must be a number from 1 to 250000, got 0$/]
  ]
  for (const [options, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(serverWatch, options as never) }, { code: 'FST_SERVER_WATCH_INVALID_OPTION', message })
    await app.close()
  }
  // Off: no groups recorded, no families.
  const app = Fastify()
  await app.register(serverWatch, { sampleIntervalMs: 3_600_000, maxErrorGroups: 0 })
  app.get('/boom', async () => { throw new Error('boom') })
  t.teardown(() => app.close())
  await app.inject('/boom')
  t.same(app.serverWatch.snapshot().application.errorGroups, [])
  t.equal(app.serverWatch.snapshot().application.recentErrors.length, 1, 'recent errors are still kept')
  t.same(samples((await app.inject('/metrics')).body, 'server_watch_error_groups'), new Map())
})

test('issue 28: error.new reaches onAlert and the webhook once per group', async (t) => {
  const bodies: unknown[] = []
  const hook = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => { body += chunk.toString() })
    request.on('end', () => { bodies.push(JSON.parse(body)); response.end() })
  })
  await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve))
  t.teardown(() => hook.close())
  const events: AnyAlertEvent[] = []
  const app = Fastify()
  await app.register(serverWatch, {
    sampleIntervalMs: 3_600_000,
    release: 'r7',
    alerts: { defaults: false, webhook: `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`, onAlert: (event) => { events.push(event) } }
  })
  app.get('/boom', async () => { throw new Error('boom') })
  t.teardown(() => app.close())
  await app.inject('/boom')
  await app.inject('/boom')
  await app.serverWatch.refresh()
  await app.serverWatch.refresh()
  await app.inject('/boom')
  await app.serverWatch.refresh()
  await until(() => bodies.length >= 1 && events.length >= 1, 'the webhook and onAlert called')
  t.equal(events.length, 1)
  t.match(events[0], { type: 'error.new', name: /^error\.new [0-9a-f]{16}$/, release: 'r7', group: { name: 'Error', message: 'boom', endpoints: { 'GET /boom': 2 } } })
  t.equal(bodies.length, 1)
  t.match(bodies[0], { text: /^\[server-watch\] NEW ERROR Error on .* in r7: boom \(GET \/boom\)/, event: { type: 'error.new' } })
})

/** An app of `release` on `dir` whose /slow takes `slowMs` and /same 20 ms (a faked clock), and whose /fail throws. */
async function releaseApp (dir: string, release: string, slowMs: number, clock: ReturnType<typeof fakeClock>) {
  const app = Fastify()
  await app.register(serverWatch, { sampleIntervalMs: 3_600_000, release, shared: { dir, name: 'shop' }, alerts: false, apdexThresholdMs: 50 })
  app.get('/slow', async () => { clock.tick(slowMs); return 'ok' })
  app.get('/same', async () => { clock.tick(20); return 'ok' })
  app.get('/fail', async () => { throw new Error('payment 42 refused') })
  await app.ready()
  for (let i = 0; i < 60; i++) {
    await app.inject('/slow')
    await app.inject('/same')
  }
  return app
}

test('issue 28: a restart with a new release on the same directory yields previous and verdicts; groups keep their ids', async (t) => {
  const clock = fakeClock(t)
  const dir = tempDir(t)
  const v1 = await releaseApp(dir, 'v1', 20, clock)
  for (let i = 0; i < 3; i++) await v1.inject('/fail')
  await v1.serverWatch.refresh()
  const [failure] = v1.serverWatch.snapshot().application.errorGroups
  const since = v1.serverWatch.snapshot().releases.current.since
  await v1.close()

  clock.tick(60_000)
  const v2 = await releaseApp(dir, 'v2', 80, clock)
  t.teardown(() => v2.close())
  await v2.inject('/fail')
  await v2.serverWatch.refresh()
  await v2.serverWatch.refresh()
  const snapshot = v2.serverWatch.snapshot()
  t.same(snapshot.releases.current, { release: 'v2', since: snapshot.releases.current.since })
  t.match(snapshot.releases.previous, { release: 'v1', since })
  t.same(snapshot.releases.comparison.map((c) => [c.endpoint, c.verdict, c.before.requests, c.after.requests]), [
    ['GET /slow', 'worse', 60, 60],
    ['GET /same', 'same', 60, 60],
    ['GET /fail', 'too_few', 3, 1]
  ])
  const slow = snapshot.releases.comparison[0]!
  t.same([slow.before.p95Ms, slow.after.p95Ms], [20, 80])
  const groups = snapshot.application.errorGroups
  t.same(groups.map((g) => [g.id, g.count, g.firstRelease]), [[failure!.id, 4, 'v1']], 'the same id, the counts of both lives')
  // Apdex at T = 50 ms over both releases' requests in the fleet: /same satisfied, /slow (80 ms) tolerating since v2.
  t.match(snapshot.apdex.endpoints['GET /same'], { satisfied: 120, tolerating: 0, frustrated: 0, score: 1 })
  t.match(snapshot.apdex.endpoints['GET /slow'], { satisfied: 60, tolerating: 60, frustrated: 0, score: 0.75 })
  t.match(snapshot.apdex, { thresholdMs: 50, frustrated: 4 })
})

async function failingCheckout (): Promise<never> {
  throw new Error('card declined')
}

test('issue 28: a rule watches one error group\'s rate (application.errorGroups["<id>"].perMinute)', async (t) => {
  const first = Fastify()
  await first.register(serverWatch, { sampleIntervalMs: 3_600_000, alerts: false })
  first.post('/checkout', failingCheckout)
  await first.inject({ method: 'POST', url: '/checkout' })
  const { id } = first.serverWatch.snapshot().application.errorGroups[0]!
  await first.close()

  const clock = fakeClock(t)
  const app = Fastify()
  await app.register(serverWatch, {
    sampleIntervalMs: 3_600_000,
    alerts: { defaults: false, rules: [{ name: 'checkout-failing', metric: `application.errorGroups["${id}"].perMinute`, above: 2, forMs: 0, severity: 'degraded' }] }
  })
  app.post('/checkout', failingCheckout)
  t.teardown(() => app.close())
  await app.ready()
  await app.inject({ method: 'POST', url: '/checkout' })
  await app.serverWatch.refresh()
  t.same(app.serverWatch.alerts().active, [], 'one a minute is not above 2')
  for (let i = 0; i < 3; i++) await app.inject({ method: 'POST', url: '/checkout' })
  clock.tick(1000)
  await app.serverWatch.refresh()
  t.match(app.serverWatch.alerts().active, [{ name: 'checkout-failing', value: 4 }])
  t.equal(app.serverWatch.snapshot().status, 'degraded')

  const bad = Fastify()
  await t.rejects(async () => {
    await bad.register(serverWatch, { alerts: { rules: [{ name: 'x', metric: 'application.errorGroups.count', above: 1 }] } })
  }, { message: /name one error group by its id as application\.errorGroups\["<16 hex digits>"\]\.perMinute/ })
  await bad.close()
})

test('issue 28: in shared mode each process row carries its release: a rolling deploy shows both', async (t) => {
  const dir = tempDir(t)
  const old = Fastify()
  await old.register(serverWatch, { sampleIntervalMs: 3_600_000, release: 'v1', shared: { dir, name: 'shop' } })
  t.teardown(() => old.close())
  await old.ready()
  await old.serverWatch.refresh()
  const next = Fastify()
  await next.register(serverWatch, { sampleIntervalMs: 3_600_000, release: 'v2', shared: { dir, name: 'shop' } })
  t.teardown(() => next.close())
  await next.ready()
  await next.serverWatch.refresh()
  await next.serverWatch.refresh()
  const snapshot = next.serverWatch.snapshot()
  t.same(snapshot.processes!.map((row) => [row.self, row.release]).sort(), [[false, 'v1'], [true, 'v2']])
  t.equal(snapshot.instance.release, 'v2')
})
