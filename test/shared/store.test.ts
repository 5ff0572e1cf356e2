import { execFileSync } from 'node:child_process'
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test, type Test } from 'tap'
import { Histogram, bucketIndex } from '../../lib/histogram.js'
import { Directory, MAX_SHARED_FILE_BYTES } from '../../lib/shared/directory.js'
import { encodeCounts, EndpointEncoder } from '../../lib/shared/encode.js'
import type { FleetView } from '../../lib/shared/merge.js'
import { claimFile, formatId, historyFile, parseName, processFile } from '../../lib/shared/names.js'
import { RequestMetrics } from '../../lib/requests/store.js'
import { readHistory } from '../../lib/shared/history-file.js'
import { checkWritable, normalizeShared, defaultAppName } from '../../lib/shared/config.js'
import { addEndpoints, decodeState, FORMAT, stateText, type Gauges } from '../../lib/shared/state.js'
import { SharedStore, type LocalSample } from '../../lib/shared/store.js'
import { Tally } from '../../lib/shared/tally.js'

const GAUGES: Gauges = {
  inFlight: 1,
  requestsPerSecond: 2.5,
  rss: 100,
  heapUsed: 40,
  heapTotal: 60,
  external: 5,
  cpuProcessPercent: 10,
  eventLoopDelayP99Ms: 12,
  eventLoopUtilization: 0.2
}

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'sw-shared-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** What the request hooks do: one response. */
function record (counts: RequestMetrics, method: string, route: string, statusCode: number, ms: number): void {
  counts.record(counts.endpointFor(method, route), statusCode, ms)
}

/** This process's request store as the tests use it: room for 1,000 routes. */
const requestStore = () => new RequestMetrics(1000, 10, 200)

/** The fleet's endpoint of `key` (the routes are read from the files then). */
const route = (view: FleetView, key: string) => view.requests.allEndpoints().find((endpoint) => endpoint.key === key)
/** The keys of the fleet's endpoints that have counts. */
const routeKeys = (view: FleetView) => view.requests.allEndpoints().filter((endpoint) => endpoint.count > 0).map((endpoint) => endpoint.key)

interface Worker { store: SharedStore, counts: RequestMetrics, sample: () => ReturnType<SharedStore['sample']>, local: () => LocalSample }

/** A fake world: one clock, one table of running pids, any number of processes. */
function world (dir: string, { app = 'api', host = 'h1' } = {}) {
  const clock = { now: 1_000_000 }
  const running = new Set<number>()
  const warnings: string[] = []
  // The stores of one real process: a world's workers share it as one process's plugin instances would.
  const runningHere = new Set<string>()
  function worker (pid: number, options: { host?: string, gauges?: Partial<Gauges>, status?: () => LocalSample['status'] } = {}): Worker {
    running.add(pid)
    const counts = requestStore()
    const store = new SharedStore({
      dir,
      app,
      sampleIntervalMs: 1000,
      maxRoutes: 200,
      maxRecentErrors: 10,
      log: { warn: (msg) => warnings.push(msg) },
      now: () => clock.now,
      hostname: options.host ?? host,
      pid,
      startedAt: clock.now,
      workerId: String(pid % 100),
      pidAlive: (other) => running.has(other),
      runningHere,
      main: null
    })
    const local = (): LocalSample => ({
      counts,
      status: options.status?.() ?? 'healthy',
      gauges: { ...GAUGES, ...options.gauges },
      recentErrors: [],
      p95Ms: counts.histogram.percentile(0.95)
    })
    return { store, counts, local, sample: () => store.sample(local()) }
  }
  return { clock, running, warnings, worker, tick: (ms = 1000) => { clock.now += ms } }
}

const processFiles = (dir: string) => readdirSync(dir).filter((name) => name.includes('~p~'))
const allFiles = (dir: string) => readdirSync(dir).sort()

test('a state file round-trips: counters, status codes and only the non-empty buckets of each histogram', async (t) => {
  const counts = requestStore()
  record(counts, 'GET', '/a', 200, 1.5)
  record(counts, 'GET', '/a', 200, 1.5)
  record(counts, 'GET', '/a', 503, 40)
  record(counts, 'POST', '/b', 201, 7)
  const encoded = encodeCounts(counts)
  t.same(encoded.statusCodes, { 200: 2, 201: 1, 503: 1 })
  t.same(encoded.histogram.slice(0, 3), [4, 50, 40], 'count, sum, max')
  t.same(encoded.histogram.slice(3), [bucketIndex(1.5) + 1, 2, bucketIndex(7) - bucketIndex(1.5), 1, bucketIndex(40) - bucketIndex(7), 1],
    'three buckets used: three pairs of the gap from the bucket before and the count')
  const state = { format: FORMAT, version: 1, app: 'api', id: 'h_1_a_0', pid: 1, hostname: 'h', workerId: null, startedAt: 1, writtenAt: 2, status: 'healthy', own: { totalRequests: 4, errorCount: 1, p95Ms: 40 }, gauges: GAUGES, counts: encoded, recentErrors: [], absorbed: [] }
  const routes = new EndpointEncoder().encode(counts, new Tally(), new Tally(), 0)
  const decoded = decodeState(stateText(state as never, routes), 'api')
  t.ok(decoded.ok)
  if (!decoded.ok) return
  t.equal(decoded.counts.total, 4)
  t.equal(decoded.counts.errorCount, 1)
  t.same([...decoded.counts.histogram.counts], [...counts.histogram.counts])
  t.equal(decoded.counts.hasEndpoints(), false, 'the routes are read only when asked for')
  addEndpoints(decoded.counts, decoded.endpoints())
  t.same(decoded.counts.allEndpoints().filter((endpoint) => endpoint.count > 0).map((endpoint) => endpoint.key), ['GET /a', 'POST /b'])
  t.equal(decoded.counts.find('GET /a')!.byClass[5]!.count, 1)
  t.equal(decoded.counts.find('GET /a')!.combined().percentile(0.5), counts.endpoints.get('GET /a')!.combined().percentile(0.5))
  t.equal(decodeState(stateText(state as never, routes).slice(0, -3), 'api').ok, false, 'cut short: refused')
})

test('files that are not a state of this app and version are refused with the reason', async (t) => {
  t.match(decodeState('', 'api'), { ok: false, reason: 'empty file' })
  t.match(decodeState('{"format":"fastify-server-watch/shared","vers', 'api'), { ok: false, reason: /corrupt or truncated/ })
  t.match(decodeState('{"hello":1}', 'api'), { ok: false, reason: /not a fastify-server-watch state file/ })
  t.match(decodeState(JSON.stringify({ format: FORMAT, version: 2 }), 'api'), { ok: false, reason: /format version 2/, version: 2 })
  t.match(decodeState(JSON.stringify({ format: FORMAT, version: 1, app: 'web' }), 'api'), { ok: false, reason: /app "web"/ })
  const counts = encodeCounts(new Tally())
  const base = { format: FORMAT, version: 1, app: 'api', id: 'h_1_a_0', pid: 1, hostname: 'h', workerId: null, startedAt: 1, writtenAt: 2, status: 'healthy', own: { totalRequests: 0, errorCount: 0, p95Ms: null }, gauges: GAUGES, counts, recentErrors: [], absorbed: [] }
  const text = (state: object) => `${JSON.stringify(state)}\n[]\n`
  t.match(decodeState(text({ ...base, counts: { ...counts, histogram: [1, 0, 0] } }), 'api'), { ok: false, reason: /buckets add up to 0, not 1/ })
  t.match(decodeState(text({ ...base, counts: { ...counts, total: -1 } }), 'api'), { ok: false, reason: /counts.total/ })
  t.match(decodeState(text({ ...base, counts: { ...counts, histogram: [1, 1, 1, 9999, 1] } }), 'api'), { ok: false, reason: /bad bucket/ })
  t.match(decodeState(text({ ...base, counts: { ...counts, histogram: [2, 1, 1, 5, 1, 0, 1] } }), 'api'), { ok: false, reason: /bad bucket/ }, 'a gap of 0 would name a bucket twice')
  t.match(decodeState(text({ ...base, status: 'fine' }), 'api'), { ok: false, reason: 'bad status' })
  t.match(decodeState(JSON.stringify(base), 'api'), { ok: false, reason: /truncated/ })
  t.ok(decodeState(text(base), 'api').ok)
  t.throws(() => addEndpoints(new Tally(), '[["GET","/","GET /",1,0,{"2":[1,1,1]}]]'), { message: /buckets add up to 0, not 1/ })
  t.throws(() => addEndpoints(new Tally(), '[["GET","/","GET /",1,0,{"7":[0,0,0]}]]'), { message: /bad status class/ })
  t.throws(() => addEndpoints(new Tally(), '{"a":1}'), { message: /not a list/ })
})

test('names: each kind of file parses back, and another app\'s files are not ours', async (t) => {
  const id = formatId({ host: 'web_1.local', pid: 42, startedAt: 1_700_000_000_000, generation: 0 })
  t.equal(id, `web-1.local_42_${(1_700_000_000_000).toString(36)}_0`)
  t.same(parseName(processFile('api', id), 'api'), { kind: 'process', id })
  t.same(parseName(claimFile('api', id, id), 'api'), { kind: 'claim', id, claimer: id })
  t.equal(parseName(processFile('api', id), 'api-2'), null)
  t.equal(parseName(processFile('api-2', id), 'api'), null)
  t.equal(parseName('api~history.json', 'api'), null)
  t.equal(parseName('api~p~nonsense.json', 'api'), null)
})

test('three processes: counters add up, histograms merge bucket by bucket, gauges add up, each process is listed', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  const workers = [w.worker(101), w.worker(102), w.worker(103, { gauges: { eventLoopDelayP99Ms: 30 } })]
  const all = new Histogram()
  let n = 0
  for (const [i, worker] of workers.entries()) {
    for (let k = 0; k < 50 * (i + 1); k++) {
      const ms = 0.5 + (n++ % 37) * 1.7
      record(worker.counts, 'GET', `/r${k % 3}`, k % 10 === 0 ? 500 : 200, ms)
      all.record(ms)
    }
  }
  for (const worker of workers) worker.sample()
  const views = workers.map((worker) => worker.sample())
  for (const view of views) {
    t.equal(view.requests.total, 300, 'every process sees the fleet\'s total')
    t.equal(view.requests.errorCount, 30)
    t.equal(view.requests.statusCodes[500], 30)
    t.same([...view.requests.histogram.counts], [...all.counts], 'the merged histogram is the histogram of all durations')
    t.equal(view.requests.histogram.percentile(0.95), all.percentile(0.95))
    t.equal(view.gauges.rss, 300)
    t.equal(view.gauges.requestsPerSecond, 7.5)
    t.equal(view.gauges.eventLoopDelayP99Ms, 30, 'the worst event loop')
    t.same(view.processes.map((row) => row.pid), [101, 102, 103])
    t.same(view.processes.map((row) => row.totalRequests), [50, 100, 150])
    t.equal(view.processes.filter((row) => row.self).length, 1)
    t.equal(view.status, 'healthy')
  }
  t.equal(route(views[1]!, 'GET /r0')!.count, 17 + 34 + 50)
})

test('a dead process is folded exactly once: counters never go down, it leaves the table, its file is gone', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  const a = w.worker(201)
  const b = w.worker(202)
  const c = w.worker(203)
  for (let k = 0; k < 10; k++) record(a.counts, 'GET', '/', 200, 1)
  for (let k = 0; k < 20; k++) record(b.counts, 'GET', '/', 200, 2)
  for (let k = 0; k < 30; k++) record(c.counts, 'GET', '/x', 500, 3)
  a.sample(); b.sample(); c.sample()
  w.tick()
  t.equal(a.sample().requests.total, 60)
  w.running.delete(203) // killed: its file stays behind
  w.tick()
  const afterA = a.sample()
  const afterB = b.sample()
  t.equal(afterA.requests.total, 60, 'the folder still counts it')
  t.equal(afterB.requests.total, 60, 'the other live process still counts it, once')
  t.equal(afterA.requests.errorCount, 30)
  t.same(afterB.processes.map((row) => row.pid), [201, 202], 'the dead process left the table')
  t.same(processFiles(dir).length, 2, 'its file is gone')
  t.notOk(allFiles(dir).some((name) => name.includes('~c~')), 'and so is the claim')
  record(b.counts, 'GET', '/', 200, 2)
  w.tick()
  t.equal(b.sample().requests.total, 61)
  t.equal(a.sample().requests.total, 61)
  t.equal(route(a.sample(), 'GET /x')!.count, 30)
  t.equal(route(b.sample(), 'GET /')!.count, 31)
})

test('folding dead processes keeps at most maxRoutes routes: a file with too many routes does not grow every later file', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  const a = w.worker(211)
  const dead = w.worker(212)
  for (let k = 0; k < 300; k++) record(dead.counts, 'GET', `/r${k}`, 200, 1)
  a.sample(); dead.sample()
  w.running.delete(212)
  w.tick()
  a.sample()
  const routesLine = readFileSync(join(dir, processFile('api', a.store.id)), 'utf8').split('\n')[1]!
  const routes = JSON.parse(routesLine) as Array<[string, string, string, number]>
  t.equal(routes.length, 201, 'maxRoutes (200) routes, then one overflow route')
  t.equal(routes.reduce((sum, route) => sum + route[3], 0), 300, 'no count lost')
  t.equal(routes.find((route) => route[2] === '(other routes)')?.[3], 100)
})

test('two processes that find the same dead file at once: only one rename succeeds', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  const dead = w.worker(301)
  const a = w.worker(302)
  const b = w.worker(303)
  for (let k = 0; k < 7; k++) record(dead.counts, 'GET', '/', 200, 1)
  dead.sample(); a.sample(); b.sample()
  w.running.delete(301)
  const name = processFile('api', dead.store.id)
  // Both scanned before either renamed: each tries the claim.
  t.equal(new Directory(dir, 'api').rename(name, claimFile('api', dead.store.id, a.store.id)), true)
  t.equal(new Directory(dir, 'api').rename(name, claimFile('api', dead.store.id, b.store.id)), false)
  // a "died" before folding its claim (its rename above stands in for it): the claim is an orphan once a is gone.
  w.running.delete(302)
  w.tick()
  const view = b.sample()
  t.equal(view.requests.total, 7, 'the orphan claim was folded by b, once')
  t.equal(b.sample().requests.total, 7)
  t.same(allFiles(dir).filter((file) => file.includes('~c~')), [], 'no claim file left')
})

test('a folder that dies between its write and deleting the claim: the claim is not counted twice', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  const a = w.worker(401)
  const b = w.worker(402)
  const c = w.worker(403)
  for (let k = 0; k < 5; k++) record(c.counts, 'GET', '/', 200, 1)
  for (let k = 0; k < 3; k++) record(a.counts, 'GET', '/', 200, 1)
  a.sample(); b.sample(); c.sample()
  w.running.delete(403)
  w.tick()
  // a folds c and writes; then its claim of c is put back as though a had died before deleting it.
  const claimed = claimFile('api', c.store.id, a.store.id)
  const cFile = readFileSync(join(dir, processFile('api', c.store.id)), 'utf8')
  a.sample()
  writeFileSync(join(dir, claimed), cFile)
  const [first, routes] = readFileSync(join(dir, processFile('api', a.store.id)), 'utf8').split('\n')
  const aFile = JSON.parse(first!)
  aFile.absorbed = [c.store.id]
  writeFileSync(join(dir, processFile('api', a.store.id)), `${JSON.stringify(aFile)}\n${routes}\n`)
  t.equal(b.sample().requests.total, 8, 'a\'s file lists c as absorbed: the claim is skipped')
  w.running.delete(401)
  w.tick()
  const view = b.sample()
  t.equal(view.requests.total, 8, 'a folded with c inside it: c counted once')
  t.same(allFiles(dir), [processFile('api', b.store.id)], 'only b\'s file is left')
  t.equal(b.sample().requests.total, 8)
})

test('another host: dead when its file is older than staleAfterMs (5 intervals, at least 5 s), by the injected clock', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  const a = w.worker(501)
  const remote = w.worker(77, { host: 'h2' })
  for (let k = 0; k < 4; k++) record(remote.counts, 'GET', '/', 200, 1)
  a.sample(); remote.sample()
  w.running.delete(77) // not that a could see this: another host's pids are not checked
  w.tick(4900)
  t.same(a.sample().processes.map((row) => row.pid), [77, 501], 'written 4.9 s ago: live (same start: by pid)')
  w.tick(200)
  const view = a.sample()
  t.same(view.processes.map((row) => row.pid), [501], 'written 5.1 s ago: dead')
  t.equal(view.requests.total, 4, 'folded, not lost')
  t.equal(processFiles(dir).length, 1)
})

test('a process found dead while it was only stalled goes on under a new id without counting twice', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  const a = w.worker(601)
  const remote = w.worker(602, { host: 'h2' })
  for (let k = 0; k < 4; k++) record(remote.counts, 'GET', '/', 200, 1)
  a.sample(); remote.sample()
  w.tick(6000)
  t.equal(a.sample().requests.total, 4, 'folded into a')
  const oldId = remote.store.id
  for (let k = 0; k < 3; k++) record(remote.counts, 'GET', '/', 200, 1)
  remote.sample()
  t.not(remote.store.id, oldId)
  t.match(w.warnings.join('\n'), /folded by another process/)
  w.tick(10)
  t.equal(a.sample().requests.total, 7, '4 folded + 3 since')
  t.equal(remote.sample().requests.total, 7)
})

test('a restarted container (same host name, same pid) folds its former life', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  const before = w.worker(1)
  for (let k = 0; k < 9; k++) record(before.counts, 'GET', '/', 200, 1)
  before.sample()
  before.store.release() // the container stops
  w.tick(3000)
  const after = w.worker(1) // pid 1 runs again
  after.sample()
  w.tick()
  const view = after.sample()
  t.equal(view.requests.total, 9)
  t.same(view.processes.map((row) => row.self), [true])
})

test('two plugin instances in one process (same pid) are two live processes, not a former life of each other', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  const a = w.worker(950)
  w.tick(5)
  const b = w.worker(950)
  for (let k = 0; k < 3; k++) record(a.counts, 'GET', '/', 200, 1)
  for (let k = 0; k < 4; k++) record(b.counts, 'GET', '/', 200, 1)
  a.sample(); b.sample()
  w.tick()
  a.sample()
  const view = b.sample()
  t.equal(view.processes.length, 2)
  t.equal(view.requests.total, 7)
  t.equal(processFiles(dir).length, 2)
  t.notMatch(w.warnings.join('\n'), /folded by another process/)
  a.store.release()
  b.store.release()
})

test('the fleet is as unhealthy as its worst live process; a dead one no longer counts', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  let failing: LocalSample['status'] = 'degraded'
  const a = w.worker(1101)
  const b = w.worker(1102, { status: () => failing })
  a.sample(); b.sample()
  let view = a.sample()
  t.equal(view.status, 'degraded', 'an optional check fails in b')
  failing = 'unhealthy'
  b.sample()
  view = a.sample()
  t.equal(view.status, 'unhealthy', 'a required check fails in b')
  t.same(view.processes.map((row) => [row.pid, row.status]), [[1101, 'healthy'], [1102, 'unhealthy']], 'each process with its own status')
  w.running.delete(1102)
  w.tick()
  t.equal(a.sample().status, 'healthy')
})

test('a state file whose routes line is bad: its totals count, its routes are left out, one warning', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  const a = w.worker(1201)
  const b = w.worker(1202)
  record(a.counts, 'GET', '/a', 200, 1)
  record(b.counts, 'GET', '/b', 200, 1)
  a.sample(); b.sample()
  const name = processFile('api', b.store.id)
  const [first] = readFileSync(join(dir, name), 'utf8').split('\n')
  writeFileSync(join(dir, name), `${first}\n[["GET","/b","GET /b",1,0,{"2":[5,1,1]}]]\n`)
  for (let i = 0; i < 2; i++) {
    const view = a.sample()
    t.equal(view.requests.total, 2)
    t.same(routeKeys(view), ['GET /a'])
  }
  t.equal(w.warnings.filter((warning) => warning.includes(name)).length, 1)
  t.match(w.warnings.join('\n'), /buckets add up to 0, not 5/)
})

test('corrupt, truncated, foreign and other-version files are skipped with one warning each; other apps are not read', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  const a = w.worker(701)
  const id = (pid: number) => formatId({ host: 'h1', pid, startedAt: 5, generation: 0 })
  writeFileSync(join(dir, processFile('api', id(1))), '{not json')
  writeFileSync(join(dir, processFile('api', id(2))), '{"format":"fastify-server-watch/shared","version":1,"app":"api","id')
  writeFileSync(join(dir, processFile('api', id(3))), '{"format":"prometheus"}')
  writeFileSync(join(dir, processFile('api', id(4))), JSON.stringify({ format: FORMAT, version: 99 }))
  writeFileSync(join(dir, 'notes.txt'), 'hello')
  const other = world(dir, { app: 'web' }).worker(702)
  for (let k = 0; k < 5; k++) record(other.counts, 'GET', '/', 200, 1)
  other.sample()
  for (let k = 0; k < 2; k++) record(a.counts, 'GET', '/', 200, 1)
  a.sample()
  w.tick()
  const view = a.sample()
  t.equal(view.requests.total, 2, 'only this app\'s valid files count')
  t.same(view.processes.map((row) => row.pid), [701])
  t.equal(w.warnings.length, 4, 'one warning per bad file, not one per sample')
  t.match(w.warnings.join('\n'), /corrupt or truncated[\s\S]*corrupt or truncated[\s\S]*not a fastify-server-watch state file[\s\S]*format version 99/)
  t.notMatch(w.warnings.join('\n'), /notes\.txt|web~/)
  t.ok(allFiles(dir).includes('notes.txt'), 'another program\'s file is left alone')
})

test('hostile files never block or exhaust the sampler: a FIFO, a symlink to /dev/zero, a huge file are refused unread', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  const a = w.worker(711)
  const id = (pid: number) => formatId({ host: 'h1', pid, startedAt: 5, generation: 0 })
  // Dead pids: the fold would claim them and read them again.
  execFileSync('mkfifo', [join(dir, processFile('api', id(1)))])
  symlinkSync('/dev/zero', join(dir, processFile('api', id(2))))
  const huge = join(dir, processFile('api', id(3)))
  writeFileSync(huge, '')
  truncateSync(huge, MAX_SHARED_FILE_BYTES + 1)
  execFileSync('mkfifo', [join(dir, historyFile('api'))])
  record(a.counts, 'GET', '/', 200, 1)
  a.sample()
  w.tick()
  const view = a.sample()
  t.equal(view.requests.total, 1)
  t.same(view.processes.map((row) => row.pid), [711])
  t.equal(w.warnings.length, 3, 'one warning per hostile file')
  t.match(w.warnings.join('\n'), /not a regular file[\s\S]*a symbolic link[\s\S]*larger than/)
  const refused: string[] = []
  t.equal(readHistory(dir, 'api', [], (reason) => refused.push(reason)), null)
  t.match(refused, [/not a regular file/])
})

test('a history file with a "__proto__" range cannot slip an unchecked range in through the prototype', async (t) => {
  const dir = tempDir(t)
  const unchecked = { stepMs: 1000, timestamps: 'not a list', series: { requestsPerSecond: 42 } }
  const text = `{"format":"fastify-server-watch/history","version":1,"app":"api","writtenAt":1,"ranges":{"__proto__":{"stepMs":1000,"timestamps":[],"series":{},"5m":${JSON.stringify(unchecked)}}}}`
  writeFileSync(join(dir, historyFile('api')), text)
  const refused: string[] = []
  const ranges = readHistory(dir, 'api', ['requestsPerSecond'], (reason) => refused.push(reason))
  t.equal(ranges?.['5m'], undefined, 'no range that was not checked')
})

test('a state file whose fields are outside their types is refused: it never breaks a sample nor reaches the snapshot', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  const a = w.worker(721)
  record(a.counts, 'GET', '/', 200, 1)
  a.sample()
  const [first, routes] = readFileSync(join(dir, processFile('api', a.store.id)), 'utf8').split('\n')
  const good = JSON.parse(first!)
  const error = { timestamp: '2026-01-01T00:00:00.000Z', method: 'GET', route: '/', path: '/', statusCode: 500, message: 'boom' }
  const bad: Array<Record<string, unknown>> = [
    { startedAt: 1e300 },
    { writtenAt: 9e15 },
    { workerId: { x: 1 } },
    { own: { totalRequests: 1, errorCount: 'x', p95Ms: null } },
    { own: { totalRequests: 1, errorCount: 0, p95Ms: 'y' } },
    { recentErrors: [{ ...error, statusCode: 'q' }] },
    { recentErrors: [{ ...error, route: { a: 1 } }] },
    { recentErrors: Array.from({ length: 1001 }, () => error) }
  ]
  bad.forEach((fields, k) => {
    // Another host, written now: live.
    const id = formatId({ host: `h${k + 10}`, pid: 5, startedAt: 5, generation: 0 })
    writeFileSync(join(dir, processFile('api', id)), `${JSON.stringify({ ...good, ...fields, id, hostname: `h${k + 10}`, writtenAt: fields.writtenAt ?? w.clock.now })}\n${routes}\n`)
  })
  const good2 = formatId({ host: 'h99', pid: 5, startedAt: 5, generation: 0 })
  writeFileSync(join(dir, processFile('api', good2)), `${JSON.stringify({ ...good, id: good2, hostname: 'h99', recentErrors: [{ ...error, extra: '<b>' }] })}\n${routes}\n`)
  w.tick()
  const view = a.sample()
  t.same(view.processes.map((row) => row.hostname), ['h1', 'h99'], 'only the sound files are live processes')
  t.equal(view.requests.total, 2)
  t.equal(w.warnings.length, bad.length, 'one warning per bad file')
  t.same(view.recentErrors, [error], 'a recent error keeps its own fields only')
})

test('the last writes: flush writes the requests since the last sample', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  const a = w.worker(901)
  const b = w.worker(902)
  a.sample(); b.sample()
  record(a.counts, 'GET', '/', 200, 1)
  a.store.flush(a.local())
  w.running.delete(901)
  w.tick()
  t.equal(b.sample().requests.total, 1)
})

test('temporary files left by a writer that died mid-write are removed once old', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  const a = w.worker(1001)
  writeFileSync(join(dir, '.api~t~99~0'), 'half')
  a.sample()
  t.ok(allFiles(dir).includes('.api~t~99~0'), 'young: may still be renamed by its writer')
  w.clock.now = Date.now() + 120_000
  a.sample()
  t.notOk(allFiles(dir).includes('.api~t~99~0'))
})

test('options: the shared directory, its name, SERVER_WATCH_DIR, and the coded errors that name it', async (t) => {
  const dir = tempDir(t)
  t.equal(normalizeShared(undefined, {}), null, 'off by default')
  t.same(normalizeShared(undefined, { SERVER_WATCH_DIR: dir }), { dir, name: defaultAppName(), workerId: null, source: 'SERVER_WATCH_DIR' })
  const other = tempDir(t)
  t.equal(normalizeShared({ dir: other }, { SERVER_WATCH_DIR: dir })!.dir, other, 'the option wins')
  t.equal(normalizeShared({ name: 'web' }, { SERVER_WATCH_DIR: dir })!.dir, dir, 'a name alone takes the directory from the variable')
  t.equal(normalizeShared(false, { SERVER_WATCH_DIR: dir }), null)
  t.equal(normalizeShared({ dir, name: 'web' }, {})!.name, 'web')
  t.equal(normalizeShared({ dir }, { pm_id: '3' })!.workerId, '3')
  t.equal(defaultAppName('/srv/app/server.js'), 'server')
  t.equal(defaultAppName('/srv/app/.hidden.mjs'), 'hidden')
  t.equal(defaultAppName(''), 'app')

  t.throws(() => normalizeShared({ dir: join(dir, 'missing') }, {}), { code: 'FST_SERVER_WATCH_SHARED_DIR', message: new RegExp(`"shared.dir" option names "${join(dir, 'missing')}", which cannot be used \\(ENOENT\\)`) })
  t.throws(() => normalizeShared(undefined, { SERVER_WATCH_DIR: join(dir, 'missing') }), { code: 'FST_SERVER_WATCH_SHARED_DIR', message: /^SERVER_WATCH_DIR names/ })
  writeFileSync(join(dir, 'file'), '')
  t.throws(() => normalizeShared({ dir: join(dir, 'file') }, {}), { code: 'FST_SERVER_WATCH_SHARED_DIR', message: /is not a directory/ })
  t.throws(() => normalizeShared({ dir: join(dir, 'file', 'below') }, {}), { code: 'FST_SERVER_WATCH_SHARED_DIR', message: /ENOTDIR/ })
  t.throws(() => normalizeShared({ dir, name: '../x' }, {}), { code: 'FST_SERVER_WATCH_INVALID_OPTION', message: /"shared.name"/ })
  t.throws(() => normalizeShared({ dir, wat: 1 }, {}), { code: 'FST_SERVER_WATCH_INVALID_OPTION', message: /"shared.wat"/ })
  t.throws(() => normalizeShared('/tmp', {}), { code: 'FST_SERVER_WATCH_INVALID_OPTION', message: /"shared"/ })
  t.throws(() => normalizeShared({}, {}), { code: 'FST_SERVER_WATCH_INVALID_OPTION', message: /"shared.dir"/ })
})

test('options: a read-only directory fails at register time', async (t) => {
  const dir = tempDir(t)
  const readOnly = join(dir, 'ro')
  writeFileSync(join(dir, 'probe'), '')
  // Root writes through permission bits: /proc is a read-only directory for everyone.
  const target = process.getuid?.() === 0 ? '/proc' : readOnly
  if (target === readOnly) {
    mkdirSync(readOnly)
    chmodSync(readOnly, 0o555)
    t.teardown(() => chmodSync(readOnly, 0o755))
  }
  // issue 27.4: parsing the option writes nothing; shared mode checks when it starts.
  const shared = normalizeShared({ dir: target }, {})!
  t.throws(() => checkWritable(shared), { code: 'FST_SERVER_WATCH_SHARED_DIR', message: /is not writable \((EACCES|EROFS|ENOENT|EPERM)\)/ })
})
