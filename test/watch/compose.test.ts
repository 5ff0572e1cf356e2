// lib/watch/: the composition root, the sample step and the read model, without Fastify (a watch built as the
// plugin builds it; every sample taken by the test).
import { test } from 'tap'
import { Value } from '@sinclair/typebox/value'
import type { Endpoint } from '../../lib/requests/endpoint.js'
import { RequestMetrics } from '../../lib/requests/store.js'
import { HealthSnapshotSchema } from '../../lib/schemas/health.js'
import type { HistoryPoint } from '../../lib/schemas/history.js'
import { buildWatch } from '../helpers/watch.js'

test('issue 27: one process: the snapshot is its own, with no fleet, and /health\'s status is readiness\'s', async (t) => {
  const { watch } = buildWatch(t)
  const users = watch.requests.endpointFor('GET', '/users/:id')
  watch.requests.record(users, 200, 12)
  watch.requests.record(users, 503, 40)
  await watch.sample()
  const snapshot = watch.snapshot()
  t.ok(Value.Check(HealthSnapshotSchema, snapshot), 'the snapshot validates')
  t.equal(snapshot.application.totalRequests, 2)
  t.equal(snapshot.application.errorCount, 1)
  t.equal(snapshot.processes, undefined)
  t.equal(snapshot.fleet, undefined)
  t.equal(watch.fleet.view(), null)
  t.equal(watch.fleet.processSeries('anything'), null)
  t.equal(watch.history, watch.fleet.history, 'the charts are this process\'s history')
  t.equal(watch.status(), 'healthy')
  t.equal(watch.ownStatus(), 'healthy')
  t.equal(watch.sampled().status, 'healthy')
})

test('issue 27: the status is lib/status.ts\'s rule over the checks and the alerts, in the snapshot, status() and ownStatus() alike', async (t) => {
  const { watch } = buildWatch(t, {
    checks: { cache: { check: () => { throw new Error('down') }, required: false } },
    alerts: { defaults: false, rules: [{ name: 'busy', metric: 'application.totalRequests', above: 0, forMs: 0, severity: 'unhealthy' }] }
  })
  await watch.sample()
  t.equal(watch.status(), 'degraded', 'an optional check failing')
  t.equal(watch.snapshot().status, 'degraded')
  watch.requests.record(watch.requests.notFound, 404, 1)
  await watch.sample()
  t.equal(watch.alertsView().active.map((alert) => alert.name).join(), 'busy')
  t.equal(watch.status(), 'unhealthy', 'the firing alert\'s severity, worse than the check\'s')
  t.equal(watch.ownStatus(), 'unhealthy')
  t.equal(watch.snapshot().status, 'unhealthy')
})

test('issue 27: the sample step: the history point carries the collectors\' gauges, listeners get it, a failing listener is logged and the others still run', async (t) => {
  const { watch, warnings } = buildWatch(t)
  t.equal(watch.sampledAt(), null, 'not sampled yet')
  const points: HistoryPoint[] = []
  watch.onSample(() => { throw new Error('listener bug') })
  const unsubscribe = watch.onSample((point) => points.push(point))
  await watch.sample()
  t.equal(points.length, 1)
  t.type(watch.sampledAt(), 'number')
  const memory = watch.sampled().memory.process
  t.equal(points[0]!.values.rss, memory.rss, 'the point\'s rss is the process collector\'s')
  t.equal(points[0]!.values.heapUsed, memory.heapUsed)
  t.equal(points[0]!.values.dbPingMs, null, 'no database: null')
  t.equal(warnings.filter((message) => message.includes('a sample listener failed')).length, 1)
  unsubscribe()
  await watch.sample()
  t.equal(points.length, 1, 'unsubscribed: not called again')
})

test('issue 27.5: RequestMetrics owns its invariants: timeouts chosen at construction, its counters written only through its methods', async (t) => {
  t.equal(buildWatch(t).watch.requests.countsTimeouts, false)
  const { watch } = buildWatch(t, {}, { countsTimeouts: true })
  const requests = watch.requests
  t.equal(requests.countsTimeouts, true, 'chosen when the watch is built, not set afterwards')
  t.throws(() => { (requests as { countsTimeouts: boolean }).countsTimeouts = false }, TypeError, 'read-only at run time too')
  t.throws(() => { (requests as unknown as { inFlight: number }).inFlight = 5 }, TypeError, 'no field to write from outside')
  requests.started()
  requests.started()
  requests.left()
  requests.started()
  requests.abortedInFlight()
  requests.abortedBeforeStart()
  requests.shedOne()
  requests.timedOutOne()
  t.same({ inFlight: requests.inFlight, aborted: requests.aborted, shed: requests.shed, timedOut: requests.timedOut }, { inFlight: 1, aborted: 2, shed: 1, timedOut: 1 })
  await watch.sample()
  const application = watch.snapshot().application
  t.same({ inFlight: application.inFlight, aborted: application.aborted, shed: application.shed, timedOut: application.timedOut }, { inFlight: 1, aborted: 2, shed: 1, timedOut: 1 })
})

test('issue 27.5: a record observer is chosen at construction: it sees each response after the store counted it; without one, the prototype\'s record runs', async (t) => {
  const seen: Array<[string, number, number, number]> = []
  const requests = new RequestMetrics(10, 10, 100, { observer: (endpoint: Endpoint, statusCode, durationMs) => seen.push([endpoint.key, statusCode, durationMs, requests.total]) })
  const users = requests.endpointFor('GET', '/users')
  requests.record(users, 201, 7)
  requests.record(requests.notFound, 404, 1)
  t.same(seen, [['GET /users', 201, 7, 1], [requests.notFound.key, 404, 1, 2]])
  t.equal(requests.total, 2)
  const plain = new RequestMetrics(10, 10, 100)
  t.equal(Object.hasOwn(plain, 'record'), false, 'no observer: no wrapper on the instance, the request path unchanged')
  t.equal(Object.hasOwn(requests, 'record'), true)
  // The observer goes to the watch the plugin builds, from the context.
  const observed: number[] = []
  const { watch } = buildWatch(t, {}, { recordObserver: (_endpoint, statusCode) => observed.push(statusCode) })
  watch.requests.record(watch.requests.notFound, 404, 1)
  t.same(observed, [404])
})

test('issue 27: close stops the loop and removes the listeners: a sample after close reaches no listener', async (t) => {
  const { watch } = buildWatch(t)
  let calls = 0
  watch.onSample(() => { calls++ })
  await watch.sample()
  watch.close()
  await watch.sample()
  t.equal(calls, 1)
})
