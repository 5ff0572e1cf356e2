// Releases (lib/releases/): which release runs, Apdex from the histograms, the before/after comparison and its
// verdicts, and the two eras kept across a restart. Pure: no server; files in a temporary directory.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { Histogram } from '../../lib/histogram.js'
import { apdex, apdexOf } from '../../lib/releases/apdex.js'
import { compareReleases, latencyChange, MIN_REQUESTS, twoProportionZ, type EndpointTotals } from '../../lib/releases/comparison.js'
import { ReleaseLedger, parseStoredReleases } from '../../lib/releases/ledger.js'
import { packageVersion, RELEASE_VARIABLES, resolveRelease } from '../../lib/releases/release.js'
import { RequestMetrics } from '../../lib/requests/store.js'

const T0 = Date.UTC(2026, 11, 6, 12)

test('issue 28: the release is the option, else SERVER_WATCH_RELEASE, else a platform variable, else package.json, else null', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-release-'))
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', version: '2.3.4' }))
  mkdirSync(join(dir, 'src'))
  mkdirSync(join(dir, 'node_modules', 'runner', 'bin'), { recursive: true })
  writeFileSync(join(dir, 'node_modules', 'runner', 'package.json'), JSON.stringify({ version: '9.9.9' }))
  const main = join(dir, 'src', 'server.js')
  const none = mkdtempSync(join(tmpdir(), 'sw-norelease-'))
  t.same(resolveRelease({ option: ' v7 ', env: { SERVER_WATCH_RELEASE: 'x' }, main }), { release: 'v7', source: 'option' })
  t.same(resolveRelease({ env: { SERVER_WATCH_RELEASE: 'r1', GIT_COMMIT: 'abc' }, main }), { release: 'r1', source: 'SERVER_WATCH_RELEASE' })
  t.same(resolveRelease({ env: { GIT_COMMIT: 'abc', HEROKU_SLUG_COMMIT: 'def' }, main }), { release: 'def', source: 'HEROKU_SLUG_COMMIT' })
  t.same(resolveRelease({ env: { K_REVISION: '' }, main }), { release: '2.3.4', source: 'package.json' }, 'an empty variable is unset')
  // A runner under node_modules: the app's package.json, not the runner's.
  t.same(resolveRelease({ env: {}, main: join(dir, 'node_modules', 'runner', 'bin', 'cli.js'), cwd: none }), { release: '2.3.4', source: 'package.json' })
  t.same(resolveRelease({ env: {}, main: '', cwd: join(dir, 'src') }), { release: '2.3.4', source: 'package.json' }, 'no main script: the working directory')
  t.equal(packageVersion(none), null)
  t.same(resolveRelease({ env: {}, main: join(none, 'x.js'), cwd: none }).source, null)
  t.equal(resolveRelease({ option: 'x'.repeat(500) }).release!.length, 100)
  for (const name of ['GIT_COMMIT', 'SOURCE_VERSION', 'HEROKU_SLUG_COMMIT', 'K_REVISION', 'RENDER_GIT_COMMIT', 'VERCEL_GIT_COMMIT_SHA', 'FLY_IMAGE_REF']) {
    t.ok((RELEASE_VARIABLES as readonly string[]).includes(name), `${name} is read`)
  }
})

/** A route's totals: `n` responses of `ms` each, `errors` of them 5xx. */
function route (n: number, ms: number | ((i: number) => number), errors = 0): EndpointTotals {
  const histogram = new Histogram()
  for (let i = 0; i < n; i++) histogram.record(typeof ms === 'number' ? ms : ms(i))
  return { count: n, errorCount: errors, histogram }
}

test('issue 28: Apdex from the histograms: satisfied within T, tolerating within 4T, 5xx frustrated', async (t) => {
  const metrics = new RequestMetrics(10, 0, 200)
  const users = metrics.endpointFor('GET', '/users')
  for (let i = 0; i < 6; i++) metrics.record(users, 200, 120) // satisfied
  for (let i = 0; i < 2; i++) metrics.record(users, 200, 1500) // tolerating (<= 2000)
  metrics.record(users, 200, 2500) // frustrated
  metrics.record(users, 503, 10) // an error: frustrated
  const slow = metrics.endpointFor('GET', '/slow')
  for (let i = 0; i < 4; i++) metrics.record(slow, 200, 3000)
  metrics.endpointFor('GET', '/unused')
  t.same(apdexOf(users, 500), { score: 0.7, satisfied: 6, tolerating: 2, frustrated: 2 })
  t.same(apdex(metrics.allEndpoints(), 500), {
    thresholdMs: 500,
    score: 0.5,
    satisfied: 6,
    tolerating: 2,
    frustrated: 6,
    endpoints: {
      'GET /users': { score: 0.7, satisfied: 6, tolerating: 2, frustrated: 2 },
      'GET /slow': { score: 0, satisfied: 0, tolerating: 0, frustrated: 4 }
    }
  })
  t.same(apdex([], 500), { thresholdMs: 500, score: null, satisfied: 0, tolerating: 0, frustrated: 0, endpoints: {} })
})

test('issue 28: the comparison\'s statistics: a z-test on the error rate, the p95 against a relative and a bucket floor', async (t) => {
  t.equal(twoProportionZ(0, 100, 0, 100), 0)
  t.ok(twoProportionZ(1, 1000, 30, 1000) > 2.576, '0.1 % to 3 % over 1,000 each is a change')
  t.ok(twoProportionZ(1, 60, 3, 60) < 2.576, '1 to 3 errors over 60 each is not')
  t.equal(latencyChange(100, 124), 0, '24 % is within the relative threshold')
  t.equal(latencyChange(100, 140), 1)
  t.equal(latencyChange(140, 100), -1)
  t.equal(latencyChange(0.2, 0.6), 0, 'under a millisecond apart')
})

test('issue 28: verdicts: a slower route is worse, an unchanged one same, more errors worse, 12 requests too_few', async (t) => {
  const jitter = (base: number) => (i: number) => base + (i % 10)
  const before = new Map([
    ['GET /slow', route(200, jitter(20))],
    ['GET /same', route(200, jitter(20))],
    ['GET /errors', route(400, 15, 1)],
    ['GET /faster', route(100, jitter(200))],
    ['GET /rare', route(12, 10)],
    ['GET /gone', route(80, 10)]
  ])
  const after = new Map([
    ['GET /slow', route(150, jitter(60))],
    ['GET /same', route(300, jitter(20))],
    ['GET /errors', route(400, 15, 40)],
    ['GET /faster', route(MIN_REQUESTS, jitter(50))],
    ['GET /rare', route(12, 100)],
    ['GET /new', route(70, 10)]
  ])
  const comparison = compareReleases(before, after)
  t.same(comparison.map(({ endpoint, verdict }) => [endpoint, verdict]), [
    ['GET /errors', 'worse'],
    ['GET /slow', 'worse'],
    ['GET /faster', 'better'],
    ['GET /same', 'same'],
    ['GET /new', 'too_few'],
    ['GET /rare', 'too_few'],
    ['GET /gone', 'too_few']
  ])
  const slow = comparison.find((c) => c.endpoint === 'GET /slow')!
  t.same(slow.before, { requests: 200, errorRate: 0, p50Ms: 24.5, p95Ms: 29 })
  t.same(slow.after, { requests: 150, errorRate: 0, p50Ms: 64.5, p95Ms: 69 })
  t.same(slow.changed, [{ figure: 'p95Ms', direction: 'worse' }])
  t.same(comparison[0]!.changed, [{ figure: 'errorRate', direction: 'worse' }])
  t.same(comparison[0]!.after.errorRate, 10)
})

test('issue 28: a restart on a new release makes the stored one previous and compares against it', async (t) => {
  const first = new RequestMetrics(10, 0, 200)
  const slow = first.endpointFor('GET', '/slow')
  const same = first.endpointFor('GET', '/same')
  for (let i = 0; i < 100; i++) {
    first.record(slow, 200, 20 + (i % 5))
    first.record(same, 200, 20 + (i % 5))
  }
  const v1 = new ReleaseLedger('v1', T0)
  t.same(v1.view(first), { current: { release: 'v1', since: new Date(T0).toISOString() }, previous: null, comparison: [] })
  const stored = JSON.parse(JSON.stringify(v1.toJSON(first, T0 + 60_000))) as unknown

  // The same release again: carried on, its counts added to the new process's.
  const again = parseStoredReleases(stored)
  if (typeof again === 'string') throw new Error(again)
  const restarted = new ReleaseLedger('v1', T0 + 120_000, again)
  t.equal(restarted.previous, null)
  t.same(restarted.toJSON(first, T0 + 180_000).current.endpoints.map(([key, count]) => [key, count]), [['GET /slow', 200], ['GET /same', 200]])

  // Counters that predate the ledger (a fleet's, in shared mode) are its baseline: only what they gain counts.
  const late = new ReleaseLedger('v1', T0, null, first)
  t.same(late.toJSON(first, T0).current.endpoints, [])
  first.record(slow, 500, 20)
  t.same(late.toJSON(first, T0).current.endpoints.map(([key, n, errors, histogram]) => [key, n, errors, histogram[0]]), [['GET /slow', 1, 1, 1]])

  const second = new RequestMetrics(10, 0, 200)
  for (let i = 0; i < 100; i++) {
    second.record(second.endpointFor('GET', '/slow'), 200, 80 + (i % 5))
    second.record(second.endpointFor('GET', '/same'), 200, 20 + (i % 5))
  }
  const parsed = parseStoredReleases(stored)
  if (typeof parsed === 'string') throw new Error(parsed)
  const v2 = new ReleaseLedger('v2', T0 + 120_000, parsed)
  const view = v2.view(second)
  t.same(view.current, { release: 'v2', since: new Date(T0 + 120_000).toISOString() })
  t.same(view.previous, { release: 'v1', since: new Date(T0).toISOString(), until: new Date(T0 + 60_000).toISOString() })
  t.same(view.comparison.map(({ endpoint, verdict }) => [endpoint, verdict]), [['GET /slow', 'worse'], ['GET /same', 'same']])
  t.equal(parseStoredReleases({ format: 'nope' }), 'not fastify-server-watch releases')
  t.equal(parseStoredReleases({ ...(stored as object), current: { release: 'v1', since: T0, until: null, endpoints: [['GET /x', 1, 0, [5, 1, 1]]] } }),
    'counts.histogram: buckets add up to 0, not 5')
})
