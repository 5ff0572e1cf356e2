import { spawn } from 'node:child_process'
import * as fs from 'node:fs'
import { chmodSync, chownSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test, type Test } from 'tap'
import type { RequestCounters } from '../../lib/requests/counts.js'
import { RequestMetrics } from '../../lib/requests/store.js'
import { normalizeShared } from '../../lib/shared/config.js'
import { checkDirectorySafety, Directory, type FileSystem } from '../../lib/shared/directory.js'
import { formatId, processFile } from '../../lib/shared/names.js'
import { Scanner } from '../../lib/shared/scan.js'
import type { Gauges } from '../../lib/shared/state.js'
import { SharedStore, type SharedStoreOptions } from '../../lib/shared/store.js'

// Issue 26, the shared directory (items 1 to 4, and 16's two apps of one name): a directory others may write.
// Every sample here is taken by calling sample(); no test waits on a clock.

const FIXTURE = fileURLToPath(new URL('../fixtures/shared/hostile-dir.mjs', import.meta.url))
const GAUGES: Gauges = {
  inFlight: 0, requestsPerSecond: 0, rss: 1, heapUsed: 1, heapTotal: 1, external: 0, cpuProcessPercent: 0, eventLoopDelayP99Ms: 1, eventLoopUtilization: 0
}

function tempDir (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'sw-26-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A fake world of processes on host h1 sharing `dir`: one clock, one table of running pids. */
function world (dir: string, overrides: Partial<SharedStoreOptions> = {}) {
  const clock = { now: 1_000_000 }
  const running = new Set<number>()
  const runningHere = new Set<string>()
  const warnings: string[] = []
  function worker (pid: number, options: Partial<SharedStoreOptions> = {}) {
    running.add(pid)
    const counts = new RequestMetrics(200, 10, 200)
    const store = new SharedStore({
      dir,
      app: 'api',
      sampleIntervalMs: 1000,
      maxRoutes: 200,
      maxRecentErrors: 10,
      log: { warn: (msg) => warnings.push(msg) },
      now: () => clock.now,
      hostname: 'h1',
      pid,
      startedAt: clock.now,
      pidAlive: (other) => running.has(other),
      runningHere,
      main: null,
      ...overrides,
      ...options
    })
    const sample = (counters: RequestCounters = counts) => store.sample({ counts: counters, status: 'healthy', gauges: GAUGES, recentErrors: [], p95Ms: null })
    return { store, counts, sample }
  }
  return { clock, running, warnings, worker }
}

/** node:fs with an injected failure or a count: the seam of lib/shared/directory.ts. */
function seam (overrides: Partial<FileSystem>): FileSystem {
  return { ...fs, ...overrides }
}

test('issue 26.1/26.2: links and FIFOs planted at the writer\'s names: nothing outside is written, nothing blocks', async (t) => {
  const dir = tempDir(t)
  chmodSync(dir, 0o1777)
  const outside = tempDir(t)
  const target = join(outside, 'passwd')
  const historyTarget = join(outside, 'history-target')
  writeFileSync(target, 'root:x:0:0\n')
  writeFileSync(historyTarget, 'keep\n')
  const child = spawn(process.execPath, [FIXTURE], {
    env: { ...process.env, SERVER_WATCH_DIR: dir, OUTSIDE: target, OUTSIDE_HISTORY: historyTarget },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => { stdout += chunk })
  child.stderr.on('data', (chunk: Buffer) => { stderr += chunk })
  // A guard, not a bound: a writer blocked on a FIFO never exits by itself (it ignored SIGTERM in the report).
  const guard = setTimeout(() => child.kill('SIGKILL'), 60_000)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once('exit', (c, s) => resolve([c, s])))
  clearTimeout(guard)
  t.equal(signal, null, `the process was not killed by the guard: it never blocked on a FIFO (stderr: ${stderr})`)
  t.equal(code, 0)
  t.equal(stdout, 'done\n', 'it sampled, closed and wrote its last state')
  t.equal(readFileSync(target, 'utf8'), 'root:x:0:0\n', 'the file the links point to is untouched')
  t.equal(readFileSync(historyTarget, 'utf8'), 'keep\n', 'the target of a link at the final name is untouched')
  t.ok(lstatSync(join(dir, 'hostile~history.json')).isFile(), 'the rename replaced the link at the final name with the history file')
  t.match(JSON.parse(readFileSync(join(dir, 'hostile~history.json'), 'utf8')), { format: 'fastify-server-watch/history', app: 'hostile' })
  const states = readdirSync(dir).filter((name) => name.startsWith('hostile~p~'))
  t.equal(states.length, 1, 'its state file was written')
  t.ok(lstatSync(join(dir, states[0]!)).isFile())
  t.equal(lstatSync(join(dir, states[0]!)).mode & 0o777, 0o600, 'created with mode 0600')
  const planted = readdirSync(dir).filter((name) => name.startsWith('.hostile~t~'))
  t.equal(planted.length, 64, 'the planted names are left as they were, none written through')
  t.ok(planted.every((name) => { const stat = lstatSync(join(dir, name)); return stat.isFIFO() || stat.isSymbolicLink() }))
})

test('issue 26.1: a temporary name is unpredictable and never an existing one', async (t) => {
  const dir = tempDir(t)
  const created: Array<[string, number]> = []
  const directory = new Directory(dir, 'api', seam({
    openSync: ((path: fs.PathLike, flags: number, mode?: number) => {
      created.push([String(path), flags])
      return fs.openSync(path, flags, mode)
    }) as FileSystem['openSync']
  }))
  directory.write('api~history.json', '{}')
  directory.write('api~history.json', '{}')
  const [[first, flags], [second]] = created as [[string, number], [string, number]]
  t.not(first, second, 'each write takes a new random name')
  t.match(first, /\/\.api~t~[0-9a-f]{24}$/)
  const { O_CREAT, O_EXCL, O_NOFOLLOW, O_NONBLOCK } = fs.constants
  t.equal(flags & (O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK), O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK, 'created exclusively, no link followed, never blocking')
  t.same(readdirSync(dir), ['api~history.json'], 'nothing left behind')
})

test('issue 26.1: register refuses a directory every user may write without the sticky bit, and warns about another user\'s', async (t) => {
  const dir = tempDir(t)
  chmodSync(dir, 0o777)
  t.throws(() => normalizeShared({ dir }), {
    code: 'FST_SERVER_WATCH_SHARED_DIR',
    message: /"shared.dir" option names ".*", which is writable by every user without the sticky bit \(mode 0777\): any local user could replace or delete/
  })
  t.throws(() => normalizeShared(undefined, { SERVER_WATCH_DIR: dir }), { code: 'FST_SERVER_WATCH_SHARED_DIR', message: /^SERVER_WATCH_DIR names/ })
  chmodSync(dir, 0o1777)
  t.equal(normalizeShared({ dir, name: 'api' })?.dir, dir, 'with the sticky bit (/tmp, /dev/shm) it is accepted')
  chmodSync(dir, 0o700)
  t.equal(normalizeShared({ dir, name: 'api' })?.dir, dir)

  const w = world(dir)
  w.worker(1)
  t.same(w.warnings, [], 'a directory of this process\'s user: no warning')
  chownSync(dir, 4242, 4242)
  const other = world(dir)
  other.worker(2)
  t.equal(other.warnings.length, 1)
  t.match(other.warnings[0], /the shared directory .* is owned by another user \(uid 4242, this process runs as 0\), who can replace or delete this app's state files/)
})

test('issue 26.3: a dead process\'s file that cannot be claimed is skipped, logged once with its name and error, and the fleet view stays', async (t) => {
  const dir = tempDir(t)
  let renames = 0
  const denied = seam({
    renameSync: (from: fs.PathLike, to: fs.PathLike) => {
      if (String(from).includes('_12_')) {
        renames++
        throw Object.assign(new Error(`EPERM: operation not permitted, rename '${String(from)}'`), { code: 'EPERM' })
      }
      fs.renameSync(from, to)
    }
  })
  const w = world(dir, { fs: denied })
  const a = w.worker(11)
  const dead = w.worker(12)
  for (let i = 0; i < 4; i++) dead.counts.record(dead.counts.endpointFor('GET', '/'), 200, 3)
  a.sample()
  dead.sample()
  w.running.delete(12)
  for (let i = 0; i < 4; i++) {
    w.clock.now += 1000
    const view = a.sample()
    t.same(view.processes.map((row) => row.pid), [11], 'the fleet view is there, without the dead process')
    t.equal(view.requests.total, 4, 'the unclaimed file still counts, as a dead process not yet folded')
    t.equal(a.store.last(), view)
  }
  t.equal(renames, 1, 'tried once, then remembered while the file is unchanged')
  const skipped = w.warnings.filter((line) => line.includes('cannot claim'))
  t.equal(skipped.length, 1, 'logged once')
  t.match(skipped[0], new RegExp(`cannot claim ${join(dir, processFile('api', dead.store.id)).replace(/[.]/g, '\\.')} in the shared directory \\(EPERM: operation not permitted`))
})

test('issue 26.3: a claim file that cannot be deleted after its fold stays listed as absorbed: never counted twice', async (t) => {
  const dir = tempDir(t)
  const denied = seam({
    unlinkSync: (path: fs.PathLike) => {
      if (String(path).includes('~c~')) throw Object.assign(new Error('EBUSY: resource busy or locked'), { code: 'EBUSY' })
      fs.unlinkSync(path)
    }
  })
  const w = world(dir, { fs: denied })
  const a = w.worker(81)
  const b = w.worker(82)
  const dead = w.worker(83)
  for (let i = 0; i < 5; i++) dead.counts.record(dead.counts.endpointFor('GET', '/'), 200, 3)
  a.sample(); b.sample(); dead.sample()
  w.running.delete(83)
  for (let i = 0; i < 4; i++) {
    w.clock.now += 1000
    t.equal(a.sample().requests.total, 5, 'the folder counts it once')
    t.equal(b.sample().requests.total, 5, 'the other counts it once')
  }
  t.equal(readdirSync(dir).filter((name) => name.includes('~c~')).length, 1, 'the claim file is still there')
  const said = w.warnings.filter((line) => line.includes('cannot delete'))
  t.equal(said.length, 2, 'said once by each process that tried')
  t.match(said[0], /cannot delete .*api~c~h1_83_\w+_0~h1_81_\w+_0\.json from the shared directory \(EBUSY: resource busy or locked\); it is left in place, its figures counted once/)
})

test('issue 26.3: old temporary files that cannot be removed are left, with one warning, and the fleet view stays', async (t) => {
  const dir = tempDir(t)
  let unlinks = 0
  const denied = seam({
    unlinkSync: (path: fs.PathLike) => {
      if (String(path).includes('.api~t~')) {
        unlinks++
        throw Object.assign(new Error(`EPERM: operation not permitted, unlink '${String(path)}'`), { code: 'EPERM' })
      }
      fs.unlinkSync(path)
    }
  })
  const w = world(dir, { fs: denied })
  const a = w.worker(71)
  for (let n = 0; n < 3; n++) {
    writeFileSync(join(dir, `.api~t~planted${n}`), '')
    utimesSync(join(dir, `.api~t~planted${n}`), 1, 1)
  }
  for (let i = 0; i < 3; i++) {
    t.same(a.sample().processes.map((row) => row.pid), [71])
    w.clock.now += 1000
  }
  t.ok(unlinks >= 3)
  t.equal(w.warnings.length, 1, 'one warning for all of them')
  t.match(w.warnings[0], /cannot remove old temporary files of the shared directory, such as .*\.api~t~planted0 \(EPERM: operation not permitted/)
})

test('issue 26.1: the directory check reads Unix mode bits only where they exist', async (t) => {
  t.same(checkDirectorySafety({ mode: 0o40777, uid: 0 }, 0, 'linux').refuse !== null, true)
  t.same(checkDirectorySafety({ mode: 0o41777, uid: 0 }, 0, 'linux'), { refuse: null, warn: null })
  t.same(checkDirectorySafety({ mode: 0o40775, uid: 0 }, 1000, 'linux'), { refuse: null, warn: null }, 'root\'s directory: root is trusted')
  t.same(checkDirectorySafety({ mode: 0o40666, uid: 0 }, undefined, 'win32'), { refuse: null, warn: null }, 'Windows: a directory reads 0666, ACLs decide')
})

test('issue 26.4: refused files are remembered by their stamp and not read again while unchanged', async (t) => {
  const dir = tempDir(t)
  const opened = new Map<string, number>()
  const counting = seam({
    openSync: ((path: fs.PathLike, flags: number, mode?: number) => {
      const name = String(path).slice(dir.length + 1)
      opened.set(name, (opened.get(name) ?? 0) + 1)
      return fs.openSync(path, flags, mode)
    }) as FileSystem['openSync']
  })
  const id = (pid: number) => formatId({ host: 'h1', pid, startedAt: 5, generation: 0 })
  const bad = [1, 2, 3].map((pid) => processFile('api', id(pid)))
  for (const name of bad) writeFileSync(join(dir, name), 'x'.repeat(100_000))
  const w = world(dir, { fs: counting })
  const a = w.worker(21)
  for (let i = 0; i < 5; i++) {
    a.sample()
    w.clock.now += 1000
  }
  t.same(bad.map((name) => opened.get(name)), [1, 1, 1], 'each read once in five samples')
  t.equal(w.warnings.filter((line) => line.includes('not JSON')).length, 3, 'one warning each')
  writeFileSync(join(dir, bad[1]!), 'y'.repeat(100_001))
  a.sample()
  a.sample()
  t.same(bad.map((name) => opened.get(name)), [1, 2, 1], 'a file that changed is read again, once')
})

test('issue 26.4: what one sample reads is bounded by a byte budget; what is left out is read at a later sample', async (t) => {
  const dir = tempDir(t)
  const reads: string[] = []
  const counting = seam({
    openSync: ((path: fs.PathLike, flags: number, mode?: number) => {
      reads.push(String(path).slice(dir.length + 1))
      return fs.openSync(path, flags, mode)
    }) as FileSystem['openSync']
  })
  const id = (pid: number) => formatId({ host: 'h1', pid, startedAt: 5, generation: 0 })
  const names = [1, 2, 3].map((pid) => processFile('api', id(pid)))
  for (const name of names) writeFileSync(join(dir, name), 'x'.repeat(1000))
  const warnings: string[] = []
  const scanner = new Scanner(new Directory(dir, 'api', counting), { warn: (msg) => warnings.push(msg) })
  const first = scanner.scan({ bytes: 2500 })
  t.same(reads, names.slice(0, 2), 'two files fit the budget; the third is left for later')
  t.same(first.refused.map(([name]) => name), names.slice(0, 2))
  t.equal(warnings.length, 1)
  t.match(warnings[0], /holds more than a sample may read/)
  const second = scanner.scan({ bytes: 2500 })
  t.same(reads, [...names.slice(0, 2), names[2]], 'the next sample reads only the one left out')
  t.same(second.refused.map(([name]) => name), names)
  scanner.scan({ bytes: 2500 })
  t.equal(reads.length, 3, 'then nothing is read again')
  t.equal(warnings.length, 1, 'the budget is warned about once')
})

test('issue 16 (26): two different apps whose main scripts share a name merge in one directory: said once in the log', async (t) => {
  const dir = tempDir(t)
  const w = world(dir, { app: 'server' })
  const a = w.worker(31, { main: '/srv/shop/server.js' })
  const b = w.worker(32, { main: '/srv/blog/server.js' })
  const c = w.worker(33, { main: '/srv/shop/server.js' })
  for (let i = 0; i < 3; i++) {
    a.sample(); b.sample(); c.sample()
    w.clock.now += 1000
  }
  const said = w.warnings.filter((line) => line.includes('their figures are merged'))
  // a and c each see b once; b sees the shop's script once (one warning per other script, per process).
  t.equal(said.length, 3)
  t.match(said.join('\n'), /process 32 on h1 runs \/srv\/blog\/server\.js, this one \/srv\/shop\/server\.js: both are named "server" in the shared directory/)

  const named = world(tempDir(t), { app: 'shop' })
  const d = named.worker(41, { main: '/srv/shop/server.js' })
  const e = named.worker(42, { main: '/srv/blog/server.js' })
  d.sample(); e.sample(); d.sample()
  t.same(named.warnings, [], 'a `shared.name` given is taken as meant')
})

test('issue 27: the fleet counts timeouts if any process does (carried in the state file)', async (t) => {
  const dir = tempDir(t)
  const w = world(dir)
  const a = w.worker(51)
  const b = w.worker(52)
  // b's counters as a process with a connectionTimeout reports them.
  const { statusCodes, histogram } = b.counts
  const withTimeouts: RequestCounters = { total: 0, errorCount: 0, inFlight: 0, shed: 0, aborted: 0, timedOut: 2, countsTimeouts: true, statusCodes, histogram, allEndpoints: () => [] }
  t.equal(a.sample().requests.countsTimeouts, false)
  b.sample(withTimeouts)
  const view = a.sample()
  t.equal(view.requests.countsTimeouts, true)
  t.equal(view.requests.timedOut, 2)
})

test('issue 26.15: closing writes this process\'s file only: the directory is not scanned', async (t) => {
  const dir = tempDir(t)
  const id = (pid: number) => formatId({ host: 'h1', pid, startedAt: 5, generation: 0 })
  for (let pid = 100; pid < 150; pid++) writeFileSync(join(dir, processFile('api', id(pid))), 'not a state')
  let opened = 0
  let listed = 0
  const counting = seam({
    openSync: ((path: fs.PathLike, flags: number, mode?: number) => { opened++; return fs.openSync(path, flags, mode) }) as FileSystem['openSync'],
    readdirSync: ((path: fs.PathLike) => { listed++; return fs.readdirSync(path) }) as FileSystem['readdirSync']
  })
  const w = world(dir, { fs: counting })
  const a = w.worker(61)
  a.sample()
  opened = listed = 0
  a.store.flush({ counts: a.counts, status: 'healthy', gauges: GAUGES, recentErrors: [], p95Ms: null })
  t.equal(listed, 0, 'no listing')
  t.equal(opened, 1, 'one file created: this process\'s next state')
})
