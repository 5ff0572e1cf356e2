// Issue 19: the rules' state machine (lib/alerts/engine.ts), their metric paths and the alerts options.
import { test } from 'tap'
import { AlertEngine } from '../../lib/alerts/engine.js'
import { parseMetricPath, readPath } from '../../lib/alerts/metric-path.js'
import { DEFAULT_RULES, normalizeAlerts, type NormalizedRule } from '../../lib/alerts/rules.js'
import { type ServerWatchOptions } from '../../lib/plugin.js'
import { buildApp } from '../helpers/app.js'

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
    ['application.endpoints["GET /x"].p90', /names no endpoint figure \(one of p50, p95, p99, errorRate\)/],
    ['eventLoop..p99', /is not a dotted path/],
    ['application.endpoints.x.p95', /name one route as application\.endpoints\["GET \/route"\]\.p95/],
    ['application.statusCodes.x', /name one route as/],
    [42, /^is not a path$/]
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
  // issue 27.4: one message style, every rule's option named by its full path.
  const cases: Array<[unknown, RegExp]> = [
    [{ rules: [{ name: 'a', metric: 'eventLoop.delayMs.p99' }] }, /^"alerts\.rules\.0" option must be a rule with exactly one of "above" and "below", got neither$/],
    [{ rules: [{ name: 'a', metric: 'eventLoop.delayMs.p99', above: 1, below: 2 }] }, /^"alerts\.rules\.0" option must be a rule with exactly one of "above" and "below", got both$/],
    [{ rules: [{ name: 'a', metric: 'eventLoop.delay.p99', above: 1 }] },
      /^"alerts\.rules\.0\.metric" option must be a path to a number of the \/health snapshot, such as "eventLoop\.delayMs\.p99", got "eventLoop\.delay\.p99", which is not a number in the \/health snapshot$/],
    [{ rules: [{ name: 'a', metric: 'eventLoop.delayMs.p99', above: '1' }] }, /^"alerts\.rules\.0\.above" option must be a finite number, got "1"$/],
    [{ rules: [{ name: 'a', metric: 'eventLoop.delayMs.p99', above: 1, forMs: -1 }] }, /^"alerts\.rules\.0\.forMs" option must be an integer from 0 to 86400000, got -1$/],
    [{ rules: [{ name: 'a', metric: 'eventLoop.delayMs.p99', above: 1, clearForMs: 1.5 }] }, /^"alerts\.rules\.0\.clearForMs" option must be an integer from 0 to 86400000, got 1\.5$/],
    [{ rules: [{ name: 'a', metric: 'eventLoop.delayMs.p99', above: 1, severity: 'critical' }] }, /^"alerts\.rules\.0\.severity" option must be one of "degraded", "unhealthy", got "critical"$/],
    [{ rules: [{ name: 'a', metric: 'eventLoop.delayMs.p99', above: 1, shed: 'yes' }] }, /^"alerts\.rules\.0\.shed" option must be a boolean, got "yes"$/],
    [{ rules: [{ name: 'a', metric: 'eventLoop.delayMs.p99', above: 1, fourMs: 10 }] }, /^"alerts\.rules\.0\.fourMs" option must be one of name, metric, above, below, forMs, clearForMs, severity, shed \(unknown option; did you mean "forMs"\?\), got a number$/],
    [{ rules: [{ name: 'bad name!', metric: 'x', above: 1 }] }, /^"alerts\.rules\.0\.name" option must be 1 to 64 letters, digits, "\.", "_" or "-", got "bad name!"$/],
    [{ rules: [{ metric: 'x', above: 1 }] }, /^"alerts\.rules\.0\.name" option must be 1 to 64 letters.*, got undefined$/],
    [{ rules: [{ name: 'a', metric: 'cpu.processPercent', above: 1 }, { name: 'a', metric: 'cpu.processPercent', above: 2 }] }, /^"alerts\.rules\.1\.name" option must be a name no other rule has, got "a"$/],
    [{ rules: [{ name: 'a', metric: 'checks.db.durationMs', above: 1 }] }, /^"alerts\.rules\.0\.metric" option .*, got "checks\.db\.durationMs", which names no configured check \(none are configured\)$/],
    // issue 27.4: one idea of a plain object (rules.ts had its own, refusing null-prototype objects).
    [{ rules: [new Map()] }, /^"alerts\.rules\.0" option must be a rule \{ name, metric, above \| below, .*\}, got a Map$/],
    [{ rules: 'all' }, /^"alerts\.rules" option must be an array of rules, got "all"$/]
  ]
  for (const [alerts, message] of cases) {
    const error = await buildApp({ alerts } as ServerWatchOptions).then(() => null, (error: Error) => error)
    t.match(error, { code: 'FST_SERVER_WATCH_INVALID_OPTION', message }, JSON.stringify(alerts))
  }
  const nullPrototype = Object.assign(Object.create(null) as Record<string, unknown>, { name: 'np', metric: 'cpu.processPercent', above: 90 })
  t.same(normalizeAlerts({ defaults: false, rules: [nullPrototype] }, [], 1000)!.rules.map((r) => r.name), ['np'], 'a null-prototype rule is a plain object, as everywhere else')
  const secret = 'https://hooks.slack.com/services/T000/B000/very-secret-part'
  const options: Array<[unknown, RegExp]> = [
    [{ webhook: 'ftp://example.com/x' }, /"alerts.webhook" option must be an http\(s\) URL.*got a value that is not an http\(s\) URL/],
    [{ webhook: 'not a url' }, /not an http\(s\) URL/],
    [{ webhook: { url: secret, format: 'irc' } }, /^"alerts\.webhook\.format" option must be one of "slack", "discord", "teams", "json", got "irc"$/],
    [{ webhook: { url: 'ftp://example.com/x' } }, /^"alerts\.webhook\.url" option must be an http\(s\) URL, got a value that is not an http\(s\) URL$/],
    [{ webhook: { url: secret, timeoutMs: 0 } }, /"alerts.webhook.timeoutMs"/],
    [{ webhook: { url: secret, retry: 3 } }, /^"alerts\.webhook\.retry" option must be one of url, format, timeoutMs, retries \(unknown option\), got a number$/],
    [{ rulez: [] }, /^"alerts\.rulez" option must be one of rules, defaults, webhook, onAlert, shedding \(unknown option; did you mean "rules"\?\), got an array$/],
    [{ defaults: 'no' }, /^"alerts\.defaults" option must be a boolean, got "no"$/],
    [{ onAlert: 'log' }, /^"alerts\.onAlert" option must be a function \(event\) => void, got "log"$/],
    [{ shedding: { retryAfter: 5 } }, /^"alerts\.shedding\.retryAfter" option must be one of retryAfterSeconds, handler \(unknown option\), got a number$/],
    [{ shedding: { handler: 1 } }, /^"alerts\.shedding\.handler" option must be a function \(request, reply, alerts\) => void, got 1$/],
    [{ shedding: { retryAfterSeconds: -1 } }, /"alerts.shedding.retryAfterSeconds"/],
    ['yes', /"alerts" option must be false or/]
  ]
  for (const [alerts, message] of options) {
    const error = await buildApp({ alerts } as ServerWatchOptions).then(() => null, (error: Error) => error)
    t.match(error, { code: 'FST_SERVER_WATCH_INVALID_OPTION', message }, JSON.stringify(alerts))
    t.notOk(error?.message.includes('very-secret-part'), 'the webhook URL is not in the message')
  }
})
