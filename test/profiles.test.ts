import { readdirSync, readlinkSync } from 'node:fs'
import { freemem } from 'node:os'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { createAccess } from '../lib/access/index.js'
import { normalizeOptions } from '../lib/options.js'
import type { ServerWatchOptions } from '../lib/plugin.js'
import { readCgroupLimits } from '../lib/collectors/cgroup.js'
import { HEAP_ROOM, HEAP_SNAPSHOT_MEMORY_FACTOR, type HeapRoom } from '../lib/profiles/heap.js'
import { Profiler, runningCapture } from '../lib/profiles/profiler.js'
import { openSessions } from '../lib/profiles/session.js'
import { summarizeAllocationProfile, summarizeCpuProfile } from '../lib/profiles/summary.js'
import { profileFileName, registerProfiles } from '../lib/routes/profiles.js'
import { buildApp } from './helpers/app.js'
import { turn, until } from './helpers/time.js'

const TOKEN = 'correct-horse-battery-staple'
const auth = { authorization: `Bearer ${TOKEN}` }
const FILE_NAME = /^attachment; filename="[A-Za-z0-9._-]+-\d+-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.(cpuprofile|heapsnapshot|heapprofile)"$/

function logLines () {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  return { lines, logger: { level: 'info', stream } }
}

async function app (test: Test, options: ServerWatchOptions = { token: TOKEN, profiles: true }, logger?: object) {
  const instance = await buildApp(options, logger === undefined ? {} : { logger })
  test.teardown(() => instance.close())
  await instance.ready()
  return instance
}

/** The profile routes alone, with a profiler of its own (no cool-down unless given): the tests' seam. */
async function bareApp (test: Test, profiler = new Profiler(0), heapRoom?: Parameters<typeof registerProfiles>[1]['heapRoom']) {
  const instance = Fastify()
  const access = createAccess({ tokens: [TOKEN], authorize: null, authorizeTimeoutMs: 1000, production: true, log: instance.log })
  registerProfiles(instance, { dashboardPath: '/dashboard', access, profiler, ...(heapRoom === undefined ? {} : { heapRoom }) })
  test.teardown(() => instance.close())
  await instance.ready()
  return instance
}

/** Descriptors of this process that point at a heap snapshot's temporary file. */
function snapshotFiles (): string[] {
  const found: string[] = []
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`)
      if (/server-watch-\d+-[0-9a-f]+\.heapsnapshot/.test(target)) found.push(target)
    } catch {}
  }
  return found
}

const timers = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length

/**
 * Keeps the CPU busy for `ms` in a function with a name the summary can find, once the capture is running (not
 * after a delay that a loaded machine could outrun). One call: a function called often gets inlined into its
 * caller by V8, and its time is then the caller's.
 */
async function spinInTheCapture (ms: number) {
  function spinForTheProfile () {
    const end = performance.now() + ms
    let x = 0
    // The clock is read rarely, so that the time is this function's own and not performance.now()'s.
    while (performance.now() < end) for (let i = 0; i < 20_000; i++) x += Math.sqrt(x + i)
    return x
  }
  await until(() => runningCapture() !== null, 'the capture to start')
  // Profiler.enable and Profiler.start, posted in turn once the capture is marked running.
  for (let i = 0; i < 3; i++) await turn()
  spinForTheProfile()
}

t.test('issue 26.11: profiles are on only when asked for (profiles: true), and never on the local rule alone', async (t) => {
  t.equal(normalizeOptions({}).profiles, false)
  t.equal(normalizeOptions({ token: TOKEN }).profiles, false, 'a token (for a Prometheus scrape, say) does not open them')
  t.equal(normalizeOptions({ authorize: () => true }).profiles, false)
  t.equal(normalizeOptions({ token: TOKEN, profiles: true }).profiles, true)
  t.equal(normalizeOptions({ authorize: () => true, profiles: true }).profiles, true)
  t.equal(normalizeOptions({ token: TOKEN, profiles: false }).profiles, false)
  t.throws(() => normalizeOptions({ profiles: true }), {
    code: 'FST_SERVER_WATCH_INVALID_OPTION',
    message: /^"profiles" option must be false unless "token" \(or SERVER_WATCH_TOKEN\) or "authorize" is set: profiles are never open on the local rule alone, got true$/
  })
  t.throws(() => normalizeOptions({ token: TOKEN, profiles: 'yes' as never }), { code: 'FST_SERVER_WATCH_INVALID_OPTION', message: /"profiles" option must be a boolean/ })

  const tokenOnly = await app(t, { token: TOKEN })
  for (const url of ['/dashboard/api/profile/cpu?seconds=1', '/dashboard/api/profile/heap', '/dashboard/api/profile/allocations']) {
    t.equal((await tokenOnly.inject({ method: 'POST', url, headers: auth })).statusCode, 404, `a token alone: ${url}`)
  }
  t.equal((await tokenOnly.inject({ url: '/dashboard/api/profile/last', headers: auth })).statusCode, 404)

  // Off adds no route: the local rule would let this caller in, the route is simply not there.
  const off = await app(t, {})
  for (const url of ['/dashboard/api/profile/cpu?seconds=1', '/dashboard/api/profile/heap', '/dashboard/api/profile/allocations']) {
    t.equal((await off.inject({ method: 'POST', url })).statusCode, 404, `off: ${url}`)
  }
  t.equal((await off.inject({ url: '/dashboard/api/profile/last' })).statusCode, 404)
  const disabled = await app(t, { token: TOKEN, profiles: false })
  t.equal((await disabled.inject({ method: 'POST', url: '/dashboard/api/profile/heap', headers: auth })).statusCode, 404)
})

t.test('a CPU profile: a .cpuprofile that DevTools reads, its summary, the log line, then the cool-down', async (t) => {
  const { lines, logger } = logLines()
  const instance = await app(t, { token: TOKEN, profiles: true }, logger)
  t.same((await instance.inject({ url: '/dashboard/api/profile/last', headers: auth })).json(), { last: null })

  const capturing = instance.inject({ method: 'POST', url: '/dashboard/api/profile/cpu?seconds=1', headers: auth, remoteAddress: '203.0.113.9' })
  await spinInTheCapture(500)
  const response = await capturing
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-disposition'], FILE_NAME)
  t.match(response.headers['content-disposition'], /\.cpuprofile"$/)
  t.equal(response.headers['content-length'], String(response.rawPayload.length))
  t.equal(response.headers['cache-control'], 'no-store')
  const profile = response.json()
  t.ok(Array.isArray(profile.nodes) && profile.nodes.length > 1, 'nodes')
  t.equal(profile.nodes[0].callFrame.functionName, '(root)')
  t.ok(profile.samples.length > 10, 'samples')
  t.equal(profile.samples.length, profile.timeDeltas.length)
  t.ok(profile.endTime - profile.startTime >= 900_000, 'about a second, in microseconds')

  const { last } = (await instance.inject({ url: '/dashboard/api/profile/last', headers: auth })).json()
  t.equal(last.kind, 'cpu')
  t.equal(last.file, /filename="([^"]+)"/.exec(response.headers['content-disposition'] as string)![1])
  t.equal(last.bytes, response.rawPayload.length)
  t.equal(last.summary.kind, 'cpu')
  t.ok(last.summary.top.length > 0 && last.summary.top.length <= 10)
  const spin = last.summary.top.find((entry: { functionName: string }) => entry.functionName === 'spinForTheProfile')
  t.ok(spin, `the busy function is among the top functions: ${JSON.stringify(last.summary)}`)
  t.ok(spin.percent >= 20, `it took a large share of the second (${spin.percent}%)`)
  t.match(spin.url, /profiles\.test\.ts$/)

  const log = lines.map((line) => JSON.parse(line)).find((entry) => entry.msg === 'server-watch: CPU profile captured')
  t.match(log, { level: 30, profile: 'cpu', client: '203.0.113.9', via: 'token', bytes: response.rawPayload.length, file: last.file })
  t.ok(log.durationMs >= 990, `how long it took (${log.durationMs} ms, at least the second asked for)`)
  t.notOk(lines.join('\n').includes(TOKEN), 'the token is never logged')

  const again = await instance.inject({ method: 'POST', url: '/dashboard/api/profile/allocations?seconds=1', headers: auth })
  t.equal(again.statusCode, 429)
  t.match(again.json(), { code: 'FST_SERVER_WATCH_PROFILE_COOLDOWN', message: /^captures are at least 10 s apart; try again in \d+ s$/ })
  t.ok(Number(again.headers['retry-after']) >= 1 && Number(again.headers['retry-after']) <= 10)
  t.equal(openSessions(), 0)
})

t.test('seconds is validated: 1 to 60, an integer', async (t) => {
  const instance = await bareApp(t)
  for (const seconds of ['0', '61', 'abc', '1.5', '-1']) {
    const response = await instance.inject({ method: 'POST', url: `/dashboard/api/profile/cpu?seconds=${seconds}`, headers: auth })
    t.equal(response.statusCode, 400, `seconds=${seconds}`)
    t.match(response.json().message, /seconds/)
  }
  t.equal(runningCapture(), null)
})

t.test('issue 26.12: seconds that are not finite (1e309, Infinity) are a 400 from the schema, with no TimeoutOverflowWarning', async (t) => {
  const instance = await bareApp(t)
  const warnings: string[] = []
  const onWarning = (warning: Error) => { warnings.push(warning.name) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  for (const seconds of ['1e309', '-1e309', 'Infinity', '-Infinity', '1e308', 'NaN', '60.000001']) {
    for (const kind of ['cpu', 'allocations']) {
      const response = await instance.inject({ method: 'POST', url: `/dashboard/api/profile/${kind}?seconds=${seconds}`, headers: auth })
      t.equal(response.statusCode, 400, `${kind} seconds=${seconds}`)
      t.match(response.json(), { code: 'FST_ERR_VALIDATION', message: /^querystring\/seconds must/ })
    }
  }
  await turn()
  t.same(warnings, [], 'no TimeoutOverflowWarning')
  t.equal(runningCapture(), null)
})

t.test('an allocation profile: a .heapprofile with its top allocation sites', async (t) => {
  const instance = await bareApp(t)
  const kept: unknown[] = []
  const timer = setInterval(function allocateForTheProfile () {
    for (let i = 0; i < 2000; i++) kept.push({ i, text: `item ${i}`.repeat(4) })
    if (kept.length > 100_000) kept.length = 0
  }, 5)
  const response = await instance.inject({ method: 'POST', url: '/dashboard/api/profile/allocations?seconds=1', headers: auth })
  clearInterval(timer)
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-disposition'], /\.heapprofile"$/)
  const profile = response.json()
  t.equal(profile.head.callFrame.functionName, '(root)')
  t.ok(Array.isArray(profile.head.children) && profile.head.children.length > 0)
  t.ok(Array.isArray(profile.samples) && profile.samples.length > 0)
  const { last } = (await instance.inject({ url: '/dashboard/api/profile/last', headers: auth })).json()
  t.equal(last.summary.kind, 'allocations')
  t.ok(last.summary.totalBytes > 0)
  t.ok(last.summary.top.some((entry: { functionName: string }) => entry.functionName === 'allocateForTheProfile'), 'the allocating function is a top site')
})

t.test('a heap snapshot: streamed from a file that leaves nothing behind', async (t) => {
  const instance = await bareApp(t)
  const response = await instance.inject({ method: 'POST', url: '/dashboard/api/profile/heap', headers: auth })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-disposition'], /\.heapsnapshot"$/)
  t.equal(response.headers['content-length'], String(response.rawPayload.length))
  const snapshot = JSON.parse(response.body)
  t.ok(snapshot.snapshot.meta.node_fields.includes('self_size'))
  t.ok(snapshot.snapshot.node_count > 1000)
  t.equal(snapshot.nodes.length, snapshot.snapshot.node_count * snapshot.snapshot.meta.node_fields.length)
  t.equal(snapshot.edges.length, snapshot.snapshot.edge_count * snapshot.snapshot.meta.edge_fields.length)
  const { last } = (await instance.inject({ url: '/dashboard/api/profile/last', headers: auth })).json()
  t.match(last, { kind: 'heap', bytes: response.rawPayload.length, summary: null })
  t.same(snapshotFiles(), [], 'the temporary file is gone')
  t.equal(openSessions(), 0)
})

t.test('unauthorised callers and cross-site requests are refused before anything is captured', async (t) => {
  const instance = await app(t, { token: TOKEN, profiles: true })
  const denied = await app(t, { authorize: () => false, profiles: true })
  for (const url of ['/dashboard/api/profile/cpu?seconds=1', '/dashboard/api/profile/heap', '/dashboard/api/profile/allocations?seconds=1']) {
    const remote = await instance.inject({ method: 'POST', url, remoteAddress: '203.0.113.9' })
    t.equal(remote.statusCode, 401, `no token: ${url}`)
    t.equal(remote.json().code, 'FST_SERVER_WATCH_UNAUTHORIZED')
    const wrong = await instance.inject({ method: 'POST', url, remoteAddress: '203.0.113.10', headers: { authorization: 'Bearer not-the-right-token-at-all' } })
    t.equal(wrong.statusCode, 401, `a wrong token: ${url}`)
    const refused = await denied.inject({ method: 'POST', url })
    t.equal(refused.statusCode, 403, `authorize said no: ${url}`)
    t.equal(refused.json().code, 'FST_SERVER_WATCH_FORBIDDEN')
    for (const headers of [{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }]) {
      const cross = await instance.inject({ method: 'POST', url, headers: { ...auth, ...headers } })
      t.equal(cross.statusCode, 403, `cross-site ${JSON.stringify(headers)}: ${url}`)
      t.equal(cross.json().code, 'FST_SERVER_WATCH_CROSS_SITE')
    }
  }
  t.equal((await instance.inject({ url: '/dashboard/api/profile/last', remoteAddress: '203.0.113.9' })).statusCode, 401)
  t.same((await instance.inject({ url: '/dashboard/api/profile/last', headers: auth })).json(), { last: null }, 'nothing was captured')
})

t.test('one capture at a time: a second is refused with a coded error; app.close() ends the first', async (t) => {
  const before = timers()
  const instance = await app(t)
  const first = instance.inject({ method: 'POST', url: '/dashboard/api/profile/cpu?seconds=30', headers: auth })
  while (runningCapture() === null) await new Promise((resolve) => setImmediate(resolve))
  t.equal(openSessions(), 1)

  const second = await instance.inject({ method: 'POST', url: '/dashboard/api/profile/heap', headers: auth })
  t.equal(second.statusCode, 409)
  t.same(second.json(), {
    statusCode: 409,
    code: 'FST_SERVER_WATCH_PROFILE_BUSY',
    error: 'Conflict',
    message: 'a cpu capture is already running in this process; one capture at a time: try again when it ends'
  })
  const other = await app(t)
  t.equal((await other.inject({ method: 'POST', url: '/dashboard/api/profile/allocations?seconds=1', headers: auth })).statusCode, 409,
    'per process: another instance of the plugin is refused too')

  await Promise.all([instance.close(), other.close()])
  const response = await first
  t.equal(response.statusCode, 503)
  t.match(response.json(), { code: 'FST_SERVER_WATCH_PROFILE_ABORTED', message: 'the capture ended before it finished: the server is closing' })
  t.equal(openSessions(), 0, 'no inspector session left')
  t.equal(runningCapture(), null)
  t.ok(timers() <= before, 'no timer left')
})

t.test('a client that leaves mid-download ends the snapshot stream and leaves nothing behind', async (t) => {
  const instance = await bareApp(t)
  await instance.listen({ port: 0, host: '127.0.0.1' })
  const { port } = instance.server.address() as AddressInfo
  const request = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/dashboard/api/profile/heap', headers: auth })
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    request.on('response', resolve).on('error', reject).end()
  })
  t.equal(response.statusCode, 200)
  await new Promise((resolve) => response.once('data', resolve))
  response.pause()
  t.equal(snapshotFiles().length, 1, 'the download reads from an unlinked temporary file')
  t.match(snapshotFiles()[0], /\(deleted\)$/)
  request.destroy()
  await until(() => snapshotFiles().length === 0, 'the snapshot\'s descriptor to close')
  t.same(snapshotFiles(), [], 'its descriptor is closed')
  t.equal(openSessions(), 0)
  t.equal(runningCapture(), null)
  const next = await instance.inject({ method: 'POST', url: '/dashboard/api/profile/heap', headers: auth })
  t.equal(next.statusCode, 200, 'the next capture works at once')
  t.ok(JSON.parse(next.body).snapshot.node_count > 0)
})

t.test('a client that leaves during a CPU capture ends it: no session, no slot held', async (t) => {
  const instance = await bareApp(t)
  await instance.listen({ port: 0, host: '127.0.0.1' })
  const { port } = instance.server.address() as AddressInfo
  const request = http.request({ port, host: '127.0.0.1', method: 'POST', path: '/dashboard/api/profile/cpu?seconds=60', headers: auth })
  request.on('error', () => {})
  request.end()
  while (runningCapture() === null) await new Promise((resolve) => setImmediate(resolve))
  t.equal(openSessions(), 1)
  request.destroy()
  await until(() => runningCapture() === null, 'the capture to end')
  t.equal(runningCapture(), null, 'ended long before its 60 s')
  t.equal(openSessions(), 0)
  t.same((await instance.inject({ url: '/dashboard/api/profile/last', headers: auth })).json(), { last: null }, 'nothing kept')
})

t.test('issue 26.10: a heap snapshot is refused unless 9 times the heap is free, under the cgroup limit too, with the figures', async (t) => {
  const MB = 1024 ** 2
  const GB = 1024 * MB
  const room = (figures: Partial<HeapRoom>): HeapRoom => ({
    heapUsed: () => 200 * MB, rss: () => 300 * MB, freeMemory: () => 100 * GB, memoryLimit: () => null, freeDisk: () => 100 * GB, ...figures
  })
  t.equal(HEAP_SNAPSHOT_MEMORY_FACTOR, 9, 'the measured factor (benchmark/README.md), rounded up')
  // The old guard let this through: 200 MB of heap, 1 GB free. A snapshot takes about 1.6 GB.
  const instance = await bareApp(t, new Profiler(10_000), room({ freeMemory: () => GB }))
  for (let i = 0; i < 2; i++) {
    const response = await instance.inject({ method: 'POST', url: '/dashboard/api/profile/heap', headers: auth })
    t.equal(response.statusCode, 503, 'refused again: a refusal starts no cool-down')
    t.same(response.json(), {
      statusCode: 503,
      code: 'FST_SERVER_WATCH_HEAP_TOO_LARGE',
      error: 'Service Unavailable',
      message: 'heap snapshot refused: the heap uses 200 MB, and a snapshot needs about 1800 MB more memory (9 times the heap); only 1024 MB of memory is free on the host'
    })
  }
  // A container: plenty free on the host, but the cgroup limit less the process's resident memory is short.
  const container = await bareApp(t, new Profiler(0), room({ memoryLimit: () => 2 * GB, rss: () => 600 * MB }))
  t.same((await container.inject({ method: 'POST', url: '/dashboard/api/profile/heap', headers: auth })).json().message,
    'heap snapshot refused: the heap uses 200 MB, and a snapshot needs about 1800 MB more memory (9 times the heap); the cgroup memory limit is 2048 MB and the process already holds 600 MB, which leaves 1448 MB')
  const disk = await bareApp(t, new Profiler(0), room({ freeDisk: () => 300 * MB }))
  t.match((await disk.inject({ method: 'POST', url: '/dashboard/api/profile/heap', headers: auth })).json(), {
    code: 'FST_SERVER_WATCH_HEAP_TOO_LARGE', message: /^heap snapshot refused: the heap uses 200 MB, the snapshot file takes about 400 MB and only 300 MB of disk is free in /
  })

  // The real figures: the host's free memory, this process's RSS, the cgroup's limit as lib/collectors/cgroup.ts reads it.
  t.equal(HEAP_ROOM.freeMemory() <= freemem() + 64 * MB, true)
  t.ok(HEAP_ROOM.heapUsed() > 0 && HEAP_ROOM.rss() >= HEAP_ROOM.heapUsed())
  t.equal(HEAP_ROOM.memoryLimit(), readCgroupLimits().memory?.bytes ?? null)
})

t.test('a capture over the size limit is not sent, and leaves nothing behind', async (t) => {
  const instance = await bareApp(t, new Profiler(0, 4096))
  const heap = await instance.inject({ method: 'POST', url: '/dashboard/api/profile/heap', headers: auth })
  t.equal(heap.statusCode, 413)
  t.same(heap.json(), { statusCode: 413, code: 'FST_SERVER_WATCH_PROFILE_TOO_LARGE', error: 'Payload Too Large', message: 'the heap snapshot is larger than the 4096-byte limit: not sent' })
  t.same(snapshotFiles(), [])
  const cpu = await instance.inject({ method: 'POST', url: '/dashboard/api/profile/cpu?seconds=1', headers: auth })
  t.equal(cpu.statusCode, 413)
  t.equal(cpu.json().message, 'the CPU profile is larger than the 4096-byte limit: not sent')
  t.equal(openSessions(), 0)
})

t.test('file names: host, pid and time, safe for any file system', async (t) => {
  const at = new Date('2026-11-30T05:30:07.123Z')
  t.equal(profileFileName('cpu', at, 'web-1.example', 4242), 'web-1.example-4242-2026-11-30T05-30-07Z.cpuprofile')
  t.equal(profileFileName('heap', at, 'a/b"c', 1), 'a_b_c-1-2026-11-30T05-30-07Z.heapsnapshot')
  t.equal(profileFileName('allocations', at, 'h', 1), 'h-1-2026-11-30T05-30-07Z.heapprofile')
})

t.test('summaries: self time from the samples, allocation sites from the tree', async (t) => {
  const frame = (functionName: string, lineNumber = 0) => ({ functionName, scriptId: '1', url: functionName.startsWith('(') ? '' : 'file:///app.js', lineNumber, columnNumber: 0 })
  const cpu = summarizeCpuProfile({
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3, 5] },
      { id: 2, callFrame: frame('handler', 9), children: [4] },
      { id: 3, callFrame: frame('(idle)') },
      { id: 4, callFrame: frame('parse', 19) },
      { id: 5, callFrame: frame('parse', 19) } // the same function from another caller: one row
    ],
    startTime: 0,
    endTime: 100_000,
    samples: [2, 4, 4, 3, 5, 2],
    timeDeltas: [0, 10_000, 20_000, 30_000, 10_000, 30_000]
  })
  t.same(cpu, {
    kind: 'cpu',
    durationMs: 100,
    samples: 6,
    idleMs: 10,
    top: [
      { functionName: 'parse', url: 'file:///app.js', line: 20, self: 80, percent: 80 },
      { functionName: 'handler', url: 'file:///app.js', line: 10, self: 10, percent: 10 }
    ]
  })
  const allocations = summarizeAllocationProfile({
    head: {
      callFrame: frame('(root)'),
      selfSize: 0,
      id: 1,
      children: [
        { callFrame: frame('', 4), selfSize: 300, id: 2, children: [{ callFrame: frame('build', 7), selfSize: 600, id: 3, children: [] }] },
        { callFrame: frame('build', 7), selfSize: 100, id: 4, children: [] }
      ]
    },
    samples: [{ size: 300, nodeId: 2, ordinal: 1 }]
  })
  t.same(allocations, {
    kind: 'allocations',
    totalBytes: 1000,
    samples: 1,
    top: [
      { functionName: 'build', url: 'file:///app.js', line: 8, self: 700, percent: 70 },
      { functionName: '(anonymous)', url: 'file:///app.js', line: 5, self: 300, percent: 30 }
    ]
  })
})
