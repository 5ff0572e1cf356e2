// Issue 19: threshold rules that alert, notify and shed load, evaluated on the sampling loop.
import { createServer, type IncomingMessage } from 'node:http'
import { Writable } from 'node:stream'
import { test } from 'tap'
import Fastify from 'fastify'
import { AlertEngine } from '../lib/alerts/engine.js'
import { parseMetricPath, readPath } from '../lib/alerts/metric-path.js'
import { DEFAULT_RULES, normalizeAlerts, webhookFormat, type NormalizedRule } from '../lib/alerts/rules.js'
import { alertText, createWebhook, webhookBody } from '../lib/alerts/webhook.js'
import serverWatch, { type AlertEvent, type ServerWatchOptions } from '../lib/plugin.js'
import { HealthSnapshotSchema } from '../lib/schemas/health.js'
import { Value } from '@sinclair/typebox/value'
import { buildApp } from './helpers/app.js'

const identity = { hostname: 'web-1', pid: 42 }
const rule = (overrides: Partial<Record<string, unknown>> = {}): NormalizedRule => {
  const normalized = normalizeAlerts({ defaults: false, rules: [{ name: 'slow-loop', metric: 'eventLoop.delayMs.p99', above: 500, forMs: 3000, ...overrides }] }, [], 1000)
  return normalized!.rules[0]!
}

/** Feeds `values`, one per second from t=0, and returns every transition with the time it came at. */
function run (engine: AlertEngine, values: Array<number | null>): Array<[number, string]> {
  const seen: Array<[number, string]> = []
  values.forEach((value, second) => {
    for (const event of engine.evaluate(second * 1000, () => value)) seen.push([second, event.type])
  })
  return seen
}

test('a rule fires only after its figure stays past the threshold for forMs, and resolves after clearForMs', async (t) => {
  const engine = new AlertEngine([rule({ forMs: 3000, clearForMs: 2000 })], identity)
  // 0-1 fine, 2 crosses, 5 is 3 s later: fires; 6 back, 8 is 2 s later: resolves.
  t.same(run(engine, [10, 20, 600, 700, 800, 900, 100, 100, 100, 100]), [[5, 'fired'], [8, 'resolved']])
  t.same(engine.active(), [])
  t.equal(engine.status(), 'healthy')
})

test('a spike shorter than forMs never fires; null (no data) counts as back', async (t) => {
  const engine = new AlertEngine([rule({ forMs: 3000 })], identity)
  t.same(run(engine, [600, 700, 800, 100, 600, 600, null, 600, 600, 600]), [])
})

test('issue 19: a flapping signal does not produce a storm of notifications', async (t) => {
  const engine = new AlertEngine([rule({ forMs: 2000, clearForMs: 5000 })], identity)
  // Past the threshold long enough to fire, then flapping every second for a minute: one fired, nothing more.
  const flapping = [600, 600, 600, ...Array.from({ length: 60 }, (_, i) => i % 2 === 0 ? 100 : 900)]
  t.same(run(engine, flapping), [[2, 'fired']])
  t.equal(engine.status(), 'degraded', 'still firing: never back for 5 s in a row')
  // A flapping signal that starts below never stays past for 2 s: nothing at all.
  const quiet = new AlertEngine([rule({ forMs: 2000 })], identity)
  t.same(run(quiet, Array.from({ length: 60 }, (_, i) => i % 2 === 0 ? 100 : 900)), [])
})

test('issue 19: with forMs 0, a signal flapping every sample fires once, not on every other sample', async (t) => {
  const engine = new AlertEngine([rule({ forMs: 0 })], identity) // clearForMs: three samples by default
  t.equal(rule({ forMs: 0 }).clearForMs, 3000)
  t.same(run(engine, Array.from({ length: 60 }, (_, i) => i % 2 === 0 ? 900 : 100)), [[0, 'fired']])
})

test('below, severity, status and the shedding flag', async (t) => {
  const low = rule({ name: 'few-free', metric: 'memory.system.available', above: undefined, below: 100, forMs: 0, clearForMs: 0, severity: 'unhealthy', shed: true })
  const high = rule({ name: 'hot', metric: 'cpu.processPercent', forMs: 0, above: 90 })
  const engine = new AlertEngine([low, high], identity)
  const events = engine.evaluate(1000, (r) => r === low ? 50 : 95)
  t.same(events.map((e) => [e.type, e.name, e.severity, e.value, e.direction, e.threshold, e.hostname, e.pid, e.timestamp]), [
    ['fired', 'few-free', 'unhealthy', 50, 'below', 100, 'web-1', 42, '1970-01-01T00:00:01.000Z'],
    ['fired', 'hot', 'degraded', 95, 'above', 90, 'web-1', 42, '1970-01-01T00:00:01.000Z']
  ])
  t.equal(engine.status(), 'unhealthy', 'the worst severity')
  t.equal(engine.shedding, true)
  t.equal(engine.shedBy, 'few-free')
  engine.evaluate(2000, (r) => r === low ? 500 : 95)
  t.equal(engine.shedding, false)
  t.equal(engine.status(), 'degraded')
  t.same(engine.view().transitions.map((e) => `${e.type} ${e.name}`), ['resolved few-free', 'fired hot', 'fired few-free'], 'newest first')
  t.same(engine.active().map((alert) => alert.name), ['hot'])
})

test('metric paths: numbers of the snapshot, checks by name, one route\'s last minute', async (t) => {
  for (const path of ['eventLoop.delayMs.p99', 'eventLoop.utilization', 'memory.process.heapUsed', 'memory.process.heapUsedPercent',
    'memory.process.rss', 'memory.system.percent', 'cpu.processPercent', 'application.recent.errorRate',
    'application.recent.responseTimeMs.p95', 'application.inFlight', 'database.pingMs', 'database.pool.checkoutWaitMs.p95', 'database.pool.waiting']) {
    t.same(parseMetricPath(path, []), { kind: 'path', segments: path.split('.') }, path)
  }
  t.same(parseMetricPath('checks.cache.durationMs', ['cache']), { kind: 'path', segments: ['checks', 'cache', 'durationMs'] })
  t.same(parseMetricPath('application.endpoints["GET /users/:id"].p95', []), { kind: 'endpoint', key: 'GET /users/:id', field: 'p95' })
  const wrong: Array<[unknown, RegExp]> = [
    ['eventLoop.delayMs.p98', /is not a number in the \/health snapshot/],
    ['eventLoop.delayMs', /is not a number/],
    ['status', /is not a number/],
    ['alerts.value', /is not a number/],
    ['checks.nope.durationMs', /names no configured check \(cache\)/],
    ['application.endpoints["GET /x"].p90', /one of p50, p95, p99, errorRate/],
    ['eventLoop..p99', /is not a dotted path/],
    ['application.endpoints.x.p95', /name one route as application\.endpoints\["GET \/route"\]\.p95/],
    ['application.statusCodes.x', /name one route as/],
    [42, /must be a path in the snapshot/]
  ]
  for (const [path, message] of wrong) t.match(parseMetricPath(path, ['cache']), message, String(path))
  t.equal(readPath({ a: { b: 3 } }, ['a', 'b']), 3)
  t.equal(readPath({ a: { b: null } }, ['a', 'b']), null)
  t.equal(readPath({ a: { b: Number.NaN } }, ['a', 'b']), null)
  t.equal(readPath({ a: 1 }, ['a', 'b']), null)
  t.equal(readPath({ a: { rising: true } }, ['a', 'rising']), 1)
  t.equal(readPath({ a: { rising: false } }, ['a', 'rising']), 0)
  t.same(parseMetricPath('memory.process.heapTrend.rising', []), { kind: 'path', segments: ['memory', 'process', 'heapTrend', 'rising'] }, 'a boolean reads as 1 or 0')
  t.same(parseMetricPath('memory.process.heapTrend.slopeBytesPerHour', []), { kind: 'path', segments: ['memory', 'process', 'heapTrend', 'slopeBytesPerHour'] })
})

test('alerts options: defaults on, replaced by name, off with false; rules checked at register with coded errors', async (t) => {
  t.same(normalizeAlerts(undefined, [], 1000)!.rules.map((r) => r.name), DEFAULT_RULES.map((r) => r.name))
  t.equal(normalizeAlerts(false, [], 1000), null)
  t.equal(normalizeAlerts({ defaults: false }, [], 1000), null)
  const replaced = normalizeAlerts({ rules: [{ name: 'event-loop-blocked', metric: 'eventLoop.delayMs.p99', above: 200 }] }, [], 1000)!
  t.same(replaced.rules.map((r) => [r.name, r.threshold]), [['heap-nearly-full', 90], ['event-loop-blocked', 200]])
  const cases: Array<[unknown, RegExp]> = [
    [{ rules: [{ name: 'a', metric: 'eventLoop.delayMs.p99' }] }, /alert rule "a" needs exactly one of "above" and "below"/],
    [{ rules: [{ name: 'a', metric: 'eventLoop.delayMs.p99', above: 1, below: 2 }] }, /needs exactly one/],
    [{ rules: [{ name: 'a', metric: 'eventLoop.delay.p99', above: 1 }] }, /alert rule "a" "metric" "eventLoop.delay.p99" is not a number in the \/health snapshot/],
    [{ rules: [{ name: 'a', metric: 'eventLoop.delayMs.p99', above: '1' }] }, /"above" must be a finite number/],
    [{ rules: [{ name: 'a', metric: 'eventLoop.delayMs.p99', above: 1, forMs: -1 }] }, /"forMs" must be an integer of milliseconds/],
    [{ rules: [{ name: 'a', metric: 'eventLoop.delayMs.p99', above: 1, severity: 'critical' }] }, /"severity" must be "degraded" or "unhealthy"/],
    [{ rules: [{ name: 'a', metric: 'eventLoop.delayMs.p99', above: 1, fourMs: 10 }] }, /alert rule "a" has an unknown key "fourMs"/],
    [{ rules: [{ name: 'bad name!', metric: 'x', above: 1 }] }, /alert rule "#0" "name" must be 1 to 64/],
    [{ rules: [{ name: 'a', metric: 'cpu.processPercent', above: 1 }, { name: 'a', metric: 'cpu.processPercent', above: 2 }] }, /alert rule "a" is defined twice/],
    [{ rules: [{ name: 'a', metric: 'checks.db.durationMs', above: 1 }] }, /names no configured check/]
  ]
  for (const [alerts, message] of cases) {
    const error = await buildApp({ alerts } as ServerWatchOptions).then(() => null, (error: Error) => error)
    t.match(error, { code: 'FST_SERVER_WATCH_INVALID_ALERT', message }, JSON.stringify(alerts))
  }
  const secret = 'https://hooks.slack.com/services/T000/B000/very-secret-part'
  const options: Array<[unknown, RegExp]> = [
    [{ webhook: 'ftp://example.com/x' }, /"alerts.webhook" option must be an http\(s\) URL.*got a value that is not an http\(s\) URL/],
    [{ webhook: 'not a url' }, /not an http\(s\) URL/],
    [{ webhook: { url: secret, format: 'irc' } }, /"alerts.webhook.format" option must be "slack", "discord", "teams" or "json"/],
    [{ webhook: { url: secret, timeoutMs: 0 } }, /"alerts.webhook.timeoutMs"/],
    [{ webhook: { url: secret, retry: 3 } }, /"alerts.webhook.retry" option/],
    [{ rulez: [] }, /"alerts.rulez" option must be not set \(unknown key; known: rules, defaults, webhook, onAlert, shedding\)/],
    [{ shedding: { retryAfterSeconds: -1 } }, /"alerts.shedding.retryAfterSeconds"/],
    ['yes', /"alerts" option must be false or/]
  ]
  for (const [alerts, message] of options) {
    const error = await buildApp({ alerts } as ServerWatchOptions).then(() => null, (error: Error) => error)
    t.match(error, { code: 'FST_SERVER_WATCH_INVALID_OPTION', message }, JSON.stringify(alerts))
    t.notOk(error?.message.includes('very-secret-part'), 'the webhook URL is not in the message')
  }
})

test('webhook formats: chosen from the URL, with bodies Slack, Discord, Teams and generic receivers accept', async (t) => {
  t.equal(webhookFormat(new URL('https://hooks.slack.com/services/a/b/c')), 'slack')
  t.equal(webhookFormat(new URL('https://discord.com/api/webhooks/1/x')), 'discord')
  t.equal(webhookFormat(new URL('https://acme.webhook.office.com/webhookb2/x')), 'teams')
  t.equal(webhookFormat(new URL('https://prod-1.westeurope.logic.azure.com/workflows/x')), 'teams')
  t.equal(webhookFormat(new URL('https://alerts.example.com/hook')), 'json')
  const event: AlertEvent = {
    type: 'fired',
    name: 'slow-loop',
    metric: 'eventLoop.delayMs.p99',
    value: 812,
    direction: 'above',
    threshold: 500,
    severity: 'unhealthy',
    timestamp: '2026-11-30T06:00:00.000Z',
    hostname: 'web-1',
    pid: 42
  }
  const text = '[server-watch] FIRING (unhealthy) slow-loop on web-1 (pid 42): eventLoop.delayMs.p99 = 812 (above 500) at 2026-11-30T06:00:00.000Z'
  t.equal(alertText(event), text)
  t.same(webhookBody(event, 'slack'), { text })
  t.same(webhookBody(event, 'teams'), { text })
  t.same(webhookBody(event, 'discord'), { content: text })
  t.same(webhookBody(event, 'json'), { text, event })
  t.match(alertText({ ...event, type: 'resolved' }), /^\[server-watch\] RESOLVED slow-loop/)
})

test('webhook delivery: bounded retries with doubling back-off, one in flight per rule, one warning per run of failures', async (t) => {
  const lines: string[] = []
  const log = Fastify({ logger: { level: 'info', stream: new Writable({ write (chunk, _e, done) { lines.push(String(chunk)); done() } }) } }).log
  const event = (name: string, type: AlertEvent['type'] = 'fired'): AlertEvent => ({
    type, name, metric: 'cpu.processPercent', value: 95, direction: 'above', threshold: 90, severity: 'degraded', timestamp: '2026-11-30T06:00:00.000Z', hostname: 'h', pid: 1
  })
  const calls: string[] = []
  const sleeps: number[] = []
  let answer = 500
  let release: (() => void) | null = null
  const webhook = createWebhook({ url: 'https://hooks.example/x', format: 'json', timeoutMs: 1000, retries: 3 }, log, {
    fetch: (async (_url: string, init: RequestInit) => {
      const body = JSON.parse(String(init.body))
      calls.push(`${body.event.type} ${body.event.name}`)
      if (release === null && body.event.name === 'held') await new Promise<void>((resolve) => { release = resolve })
      return new Response(null, { status: answer })
    }) as typeof fetch,
    sleep: async (ms) => { sleeps.push(ms) }
  })
  webhook.send(event('down'))
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.same(calls, ['fired down', 'fired down', 'fired down', 'fired down'], 'the first try and three retries')
  t.same(sleeps, [1000, 2000, 4000], 'doubling back-off')
  const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40)
  t.equal(warnings.length, 1, 'one warning for the run of failures')
  t.match(warnings[0], { alert: 'down', reason: 'the receiver answered 500' })
  t.notOk(lines.join('').includes('hooks.example'), 'the URL is never logged')

  calls.length = 0
  answer = 200
  webhook.send(event('held'))
  webhook.send(event('held', 'resolved'))
  webhook.send(event('held', 'fired'))
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.same(calls, ['fired held'], 'one in flight per rule; the others wait')
  release!()
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.same(calls, ['fired held', 'fired held'], 'then only the newest waiting transition is sent')
  t.notOk(lines.some((line) => line.includes('delivers again')), 'a rule that never failed does not "recover"')
  webhook.send(event('down', 'resolved'))
  await new Promise((resolve) => setTimeout(resolve, 10))
  t.match(lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 30), [{ alert: 'down', msg: 'server-watch: the alert webhook delivers again' }])
  webhook.close()
})

function receiver () {
  const bodies: unknown[] = []
  let hang = false
  const waiting: Array<() => void> = []
  const server = createServer((request: IncomingMessage, response) => {
    let body = ''
    request.on('data', (chunk) => { body += chunk })
    request.on('end', () => {
      bodies.push(JSON.parse(body))
      for (const resolve of waiting.splice(0)) resolve()
      if (!hang) response.end('ok')
    })
  })
  return {
    bodies,
    server,
    hang () { hang = true },
    /** Resolves once `count` POSTs have arrived (at most 10 s). */
    async received (count: number) {
      const deadline = Date.now() + 10_000
      while (bodies.length < count && Date.now() < deadline) await new Promise<void>((resolve) => { waiting.push(resolve); setTimeout(resolve, 100) })
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
      onAlert: (event) => { events.push(event) }
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

  // The first blocked sample starts the rule's 200 ms; the block itself makes sure the second comes after them.
  block(300)
  await tick()
  await app.serverWatch.refresh()
  t.same(events, [], 'pending: not yet for 200 ms')
  t.equal((await app.inject('/hello')).statusCode, 200)
  block(300)
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
  await new Promise((resolve) => setTimeout(resolve, 10))
  const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40).map((entry) => entry.msg)
  t.ok(warnings.includes('server-watch: alert rule "typo" names "GET /users/:ID", which is no route of this app: it cannot fire'))
  t.ok(warnings.includes('server-watch: onAlert failed'))
  t.ok(warnings.includes('server-watch: alert always fired'))
  t.notOk(warnings.some((message: string) => message.includes('"GET /users/:id"')), 'a route that exists is not warned of')
})
