// Issue 19 end to end: rules evaluated on the sampling loop alert, fail readiness, notify and shed load.
import { createServer, type IncomingMessage } from 'node:http'
import { Writable } from 'node:stream'
import { test } from 'tap'
import Fastify from 'fastify'
import serverWatch, { type AlertEvent } from '../../lib/plugin.js'
import { HealthSnapshotSchema } from '../../lib/schemas/health.js'
import { Value } from '@sinclair/typebox/value'
import { buildApp } from '../helpers/app.js'
import { turn, until } from '../helpers/time.js'

function receiver () {
  const bodies: unknown[] = []
  let hang = false
  const server = createServer((request: IncomingMessage, response) => {
    let body = ''
    request.on('data', (chunk) => { body += chunk })
    request.on('end', () => {
      bodies.push(JSON.parse(body))
      if (!hang) response.end('ok')
    })
  })
  return {
    bodies,
    server,
    hang () { hang = true },
    /** Resolves once `count` POSTs have arrived. */
    async received (count: number) {
      await until(() => bodies.length >= count, `${count} POSTs`)
      return bodies.length
    }
  }
}

const block = (ms: number) => { const end = Date.now() + ms; while (Date.now() < end); }
const tick = () => new Promise((resolve) => setTimeout(resolve, 120))

test('issue 19 end to end: a blocked event loop fires the rule, fails readiness, notifies once, sheds load, and all clears', async (t) => {
  const hook = receiver()
  await new Promise<void>((resolve) => hook.server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => hook.server.close())
  const events: AlertEvent[] = []
  const app = Fastify()
  await app.register(serverWatch, {
    // The loop samples once at start; the test samples with refresh(), so each sample comes when it says.
    sampleIntervalMs: 3_600_000,
    alerts: {
      defaults: false,
      rules: [{ name: 'slow-loop', metric: 'eventLoop.delayMs.p99', above: 150, forMs: 200, clearForMs: 0, severity: 'unhealthy', shed: true }],
      webhook: `http://127.0.0.1:${(hook.server.address() as { port: number }).port}/hook`,
      onAlert: (event) => { if (event.type !== 'error.new') events.push(event) }
    }
  })
  app.get('/hello', async () => 'hi')
  app.get('/important', { config: { serverWatch: { shed: false } } }, async () => 'still here')
  t.teardown(() => app.close())
  await app.ready()
  // Start from a calm sample (a loaded machine can stall the loop on its own at start-up), which leaves the rule ok.
  for (let samples = 0; samples < 20; samples++) {
    await tick()
    await app.serverWatch.refresh()
    if ((app.serverWatch.snapshot().eventLoop.delayMs.p99 ?? 0) < 150) break
  }
  t.equal((await app.inject('/health/ready')).statusCode, 200)

  // The first blocked sample starts the rule's 200 ms; the block itself makes sure the second comes after them. 600 ms:
  // a stall on an idle loop is timed when it spans the next 500 ms tick (lib/collectors/event-loop.ts).
  block(600)
  await tick()
  await app.serverWatch.refresh()
  t.same(events, [], 'pending: not yet for 200 ms')
  t.equal((await app.inject('/hello')).statusCode, 200)
  block(600)
  await tick()
  await app.serverWatch.refresh()
  t.same(events.map((e) => e.type), ['fired'])
  t.ok(events[0]!.value! > 150, `fired with the value that crossed (${events[0]!.value} ms)`)

  const health = await app.inject('/health')
  t.equal(health.statusCode, 503)
  const snapshot = health.json()
  t.ok(Value.Check(HealthSnapshotSchema, snapshot), 'the snapshot matches its schema')
  t.equal(snapshot.status, 'unhealthy')
  t.match(snapshot.alerts, [{ name: 'slow-loop', metric: 'eventLoop.delayMs.p99', direction: 'above', threshold: 150, severity: 'unhealthy' }])
  t.equal(snapshot.alerts.length, 1)
  const ready = await app.inject('/health/ready')
  t.same([ready.statusCode, ready.json()], [503, { status: 'fail' }], 'readiness fails: the load balancer drains us')
  const healthJson = (await app.inject({ url: '/health', headers: { accept: 'application/health+json' } })).json()
  t.match(healthJson.checks['alert:slow-loop'], [{ componentId: 'eventLoop.delayMs.p99', status: 'fail' }])
  t.match((await app.inject('/metrics')).body, /^server_watch_alert_firing\{alertname="slow-loop",severity="unhealthy"\} 1$/m)

  const shed = await app.inject('/hello')
  t.equal(shed.statusCode, 503)
  t.equal(shed.headers['retry-after'], '10')
  t.same(shed.json(), { statusCode: 503, code: 'FST_SERVER_WATCH_SHEDDING', error: 'Service Unavailable', message: 'the server is overloaded (alert "slow-loop"); try again later' })
  t.equal((await app.inject('/important')).statusCode, 200, 'a route that opts out is served')
  t.equal((await app.inject('/health/live')).statusCode, 200, 'probes answer')
  t.equal((await app.inject('/dashboard/api/snapshot')).statusCode, 200, 'the dashboard answers')
  const view = (await app.inject('/dashboard/api/alerts')).json()
  t.match(view, { active: [{ name: 'slow-loop' }], rules: [{ name: 'slow-loop', threshold: 150, forMs: 200, shed: true }], transitions: [{ type: 'fired', name: 'slow-loop' }] })
  t.same(app.serverWatch.alerts().transitions.length, 1)

  t.equal(await hook.received(1), 1)
  t.match(hook.bodies[0], { text: /FIRING \(unhealthy\) slow-loop/, event: { type: 'fired', name: 'slow-loop' } })

  // Recovery: the next sample that sees a calm loop resolves it (clearForMs: 0). On a loaded machine the loop may
  // stay slow a little longer, so a few samples are allowed.
  for (let samples = 0; samples < 20 && events.length < 2; samples++) {
    await tick()
    await app.serverWatch.refresh()
  }
  t.same(events.map((e) => e.type), ['fired', 'resolved'])
  t.equal((await app.inject('/hello')).statusCode, 200, 'no longer shed')
  t.equal((await app.inject('/health/ready')).statusCode, 200)
  t.same((await app.inject('/health')).json().alerts, [])
  t.match((await app.inject('/metrics')).body, /^server_watch_alert_firing\{alertname="slow-loop",severity="unhealthy"\} 0$/m)
  t.equal(await hook.received(2), 2)
  t.match(hook.bodies[1], { event: { type: 'resolved' } })
})

test('a webhook receiver that hangs never delays the sampling loop', async (t) => {
  const hook = receiver()
  hook.hang()
  await new Promise<void>((resolve) => hook.server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { hook.server.closeAllConnections(); hook.server.close() })
  const app = await buildApp({
    sampleIntervalMs: 3_600_000,
    alerts: {
      defaults: false,
      rules: [{ name: 'always', metric: 'memory.process.rss', above: 1, forMs: 0 }],
      webhook: { url: `http://127.0.0.1:${(hook.server.address() as { port: number }).port}/`, timeoutMs: 60_000, retries: 0 }
    }
  })
  t.teardown(() => app.close())
  await app.ready()
  await app.serverWatch.refresh()
  t.equal(await hook.received(1), 1, 'the POST is out and unanswered')
  // Samples go on while it hangs.
  for (let i = 0; i < 3; i++) await app.serverWatch.refresh()
  t.equal((await app.inject('/health')).json().alerts[0].name, 'always')
  t.equal((await app.inject('/health')).json().status, 'degraded', 'a degraded rule: 200, degraded')
})

test('rules read every part of the snapshot they name: the heap trend, checks, the application', async (t) => {
  const app = await buildApp({
    sampleIntervalMs: 3_600_000,
    checks: { cache: () => true },
    alerts: {
      defaults: false,
      rules: [
        { name: 'trend-points', metric: 'memory.process.heapTrend.points', above: -1, forMs: 0 },
        { name: 'not-rising', metric: 'memory.process.heapTrend.rising', below: 1, forMs: 0 },
        { name: 'check-ran', metric: 'checks.cache.durationMs', above: -1, forMs: 0 },
        { name: 'in-flight', metric: 'application.inFlight', above: -1, forMs: 0 },
        { name: 'heap-share', metric: 'memory.process.heapUsedPercent', above: 0, forMs: 0 }
      ]
    }
  })
  t.teardown(() => app.close())
  await app.ready()
  await app.serverWatch.refresh()
  t.same(app.serverWatch.alerts().active.map((alert) => alert.name).sort(), ['check-ran', 'heap-share', 'in-flight', 'not-rising', 'trend-points'])
  t.match(app.serverWatch.alerts().active.find((alert) => alert.name === 'not-rising'), { value: 0 })
})

test('with alerts: false nothing is evaluated, shed or exported', async (t) => {
  const app = await buildApp({ alerts: false })
  t.teardown(() => app.close())
  await app.ready()
  await app.serverWatch.refresh()
  t.same(app.serverWatch.alerts(), { active: [], rules: [], transitions: [] })
  t.notMatch((await app.inject('/metrics')).body, /server_watch_alert_firing/)
  t.same((await app.inject('/health')).json().alerts, [])
})

test('a custom shedding handler, and application.recent over the last minute', async (t) => {
  const app = await buildApp({
    sampleIntervalMs: 3_600_000,
    alerts: {
      defaults: false,
      rules: [{ name: 'errors', metric: 'application.recent.errorRate', above: 40, forMs: 0, shed: true }],
      shedding: { handler: (_request, reply, alerts) => { reply.code(429).send({ busy: alerts.map((alert) => alert.name) }) } }
    }
  })
  t.teardown(() => app.close())
  await app.ready()
  await app.serverWatch.refresh()
  for (let i = 0; i < 3; i++) await app.inject('/fail')
  await app.inject('/')
  await app.serverWatch.refresh()
  const recent = (await app.inject('/health')).json().application.recent
  t.match(recent, { requests: 4, errors: 3, errorRate: 75 })
  for (let i = 0; i < 5; i++) t.same((await app.inject('/users/1')).json(), { busy: ['errors'] })
  await app.serverWatch.refresh()
  // Shed requests are counted as shed and in nothing else, so they cannot keep the error-rate rule firing.
  const application = (await app.inject('/health')).json().application
  t.match(application, { totalRequests: 4, shed: 5, recent: { requests: 4, errors: 3 } })
  t.notOk('GET /users/:id' in application.endpoints)
  t.match((await app.inject('/metrics')).body, /^http_requests_shed_total 5$/m)
})

test('an async onAlert that rejects is logged, not left unhandled; a rule on an unknown route is warned of', async (t) => {
  const lines: string[] = []
  const app = Fastify({ logger: { level: 'warn', stream: new Writable({ write (chunk, _e, done) { lines.push(String(chunk)); done() } }) } })
  await app.register(serverWatch, {
    sampleIntervalMs: 3_600_000,
    alerts: {
      defaults: false,
      rules: [
        { name: 'always', metric: 'memory.process.rss', above: 1, forMs: 0 },
        { name: 'typo', metric: 'application.endpoints["GET /users/:ID"].p95', above: 100 },
        { name: 'fine', metric: 'application.endpoints["GET /users/:id"].p95', above: 100 }
      ],
      onAlert: async () => { throw new Error('the pager is down') }
    }
  })
  app.get('/users/:id', async () => ({}))
  t.teardown(() => app.close())
  await app.ready()
  await app.serverWatch.refresh()
  await turn()
  const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40).map((entry) => entry.msg)
  t.ok(warnings.includes('server-watch: alert rule "typo" names "GET /users/:ID", which is no route of this app: it cannot fire'))
  t.ok(warnings.includes('server-watch: onAlert failed'))
  t.ok(warnings.includes('server-watch: alert always fired'))
  t.notOk(warnings.some((message: string) => message.includes('"GET /users/:id"')), 'a route that exists is not warned of')
})

test('a shedding rule adds no hook to any route: the check is in the plugin\'s own onRequest', async (t) => {
  const app = Fastify()
  app.get('/before', async () => 'registered before the plugin')
  await app.register(serverWatch, {
    sampleIntervalMs: 3_600_000,
    alerts: { defaults: false, rules: [{ name: 'errors', metric: 'application.recent.errorRate', above: 40, forMs: 0, shed: true }] }
  })
  const routeHooks: unknown[] = []
  app.addHook('onRoute', (route) => { routeHooks.push(route.onRequest) })
  app.get('/fail', async () => { throw new Error('boom') })
  app.get('/after', async () => 'registered after the plugin')
  t.teardown(() => app.close())
  await app.ready()
  t.same(routeHooks, [undefined, undefined, undefined, undefined], 'GET and HEAD of both routes: no route-level onRequest')
  await app.serverWatch.refresh()
  for (let i = 0; i < 3; i++) t.equal((await app.inject('/fail')).statusCode, 500)
  await app.serverWatch.refresh()
  t.equal((await app.inject('/after')).statusCode, 503)
  // As before the check moved: routes registered before the plugin and unknown URLs are not shed.
  t.equal((await app.inject('/before')).statusCode, 200)
  t.equal((await app.inject('/nowhere')).statusCode, 404)
  t.equal((await app.inject('/health')).json().application.shed, 1)
})
