// Process plumbing and statistics shared by the benchmark scripts.
import { spawn, execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const SERVER_SCRIPT = fileURLToPath(new URL('./server.js', import.meta.url))
export const HOOK_SERVER_SCRIPT = fileURLToPath(new URL('./hook-server.js', import.meta.url))
export const LOAD_SCRIPT = fileURLToPath(new URL('./load.js', import.meta.url))
export const PLUGIN_BUILD = fileURLToPath(new URL('../dist/plugin.js', import.meta.url))

export const VARIANTS = ['bare', 'server-watch', 'fastify-metrics', 'under-pressure']
/**
 * A second bare Fastify, measured like the others in the throughput rounds: its ratio to bare is the harness's
 * own resolution on this machine (an A/A test), the yardstick for the other ratios.
 */
export const CONTROL = 'bare-again'

export const QUICK = process.env.BENCH_QUICK === '1'
export const SERVER_CPU = envNumber('BENCH_SERVER_CPU', 0)
export const LOAD_CPU = envNumber('BENCH_LOAD_CPU', 1)

export function envNumber (name, fallback) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value)) throw new Error(`${name} must be a number, got "${raw}"`)
  return value
}

/**
 * The server-watch variant's options: the defaults, except the sampling interval when
 * BENCH_SAMPLE_INTERVAL_MS is set (the instruction counts set it to an hour, see instructions.js).
 */
export function pluginOptionsFromEnv () {
  const sampleIntervalMs = envNumber('BENCH_SAMPLE_INTERVAL_MS', 0)
  return sampleIntervalMs > 0 ? { sampleIntervalMs } : {}
}

/**
 * Extra V8 flags for every server process (BENCH_NODE_ARGS, space-separated; none by default: V8 sizes the
 * young generation adaptively, as in production). See "Garbage collection" in benchmark/README.md for what
 * pinning it (`--min-semi-space-size=16 --max-semi-space-size=16`) showed.
 */
export const SERVER_NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)

let taskset = null
function hasTaskset () {
  if (taskset === null) {
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' })
      taskset = true
    } catch {
      taskset = false
      console.error('! taskset not found (util-linux): processes will not be pinned; expect more noise')
    }
  }
  return taskset
}

export function pinned () {
  return hasTaskset()
}

const children = new Set()
function cleanUp () {
  for (const child of children) child.kill('SIGKILL')
}
process.on('exit', cleanUp)
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    cleanUp()
    process.exit(130)
  })
}

/** Spawns `node [nodeArgs] script [args]` with an IPC channel, pinned to `cpu` when taskset exists. */
function spawnNode (script, args, { cpu, nodeArgs = [] }) {
  const command = [process.execPath, ...nodeArgs, script, ...args]
  const child = hasTaskset() && cpu !== null
    ? spawn('taskset', ['-c', String(cpu), ...command], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    : spawn(command[0], command.slice(1), { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

function once (child, predicate, what) {
  return new Promise((resolve, reject) => {
    const onMessage = (message) => {
      if (!predicate(message)) return
      child.off('exit', onExit)
      child.off('message', onMessage)
      resolve(message)
    }
    const onExit = (code, signal) => {
      child.off('message', onMessage)
      reject(new Error(`process exited (${signal ?? code}) while waiting for ${what}`))
    }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

export function pluginBuilt () {
  return existsSync(PLUGIN_BUILD)
}

/**
 * Starts `node [nodeArgs] script [args]` with an IPC channel, for the tools that read what V8 writes (a log, a
 * profile, a trace on stdout), and resolves with the child and its port once it reports listening (in 60 s).
 * `stdout`: 'inherit' or 'pipe'; `cpu`: the core to pin it to, or null.
 */
export async function spawnListening (script, args, { nodeArgs = [], stdout = 'inherit', env = process.env, cpu = null } = {}) {
  const command = [process.execPath, ...nodeArgs, script, ...args]
  const stdio = ['ignore', stdout, 'inherit', 'ipc']
  const child = cpu !== null && hasTaskset()
    ? spawn('taskset', ['-c', String(cpu), ...command], { stdio, env })
    : spawn(command[0], command.slice(1), { stdio, env })
  children.add(child)
  child.once('exit', () => children.delete(child))
  const { port } = await Promise.race([
    once(child, (m) => m.type === 'listening', `${script} ${args.join(' ')} to listen`),
    new Promise((resolve, reject) => setTimeout(() => reject(new Error(`${args.join(' ')} did not listen in 60 s`)), 60_000).unref())
  ])
  return { child, port }
}

/**
 * Serves `requests` requests with a variant of hook-server.js started with these Node flags (after `idleS` seconds
 * idle), then lets it exit by itself: what V8 writes on exit (a CPU profile, an inline-cache log) is then complete.
 */
export async function serveThenExit (variant, { nodeArgs = [], env = process.env, requests, idleS = 0 }) {
  // Loaded here, not at the top: every server process imports this module, and the code a server has loaded changes
  // how fast its request path runs (README.md, "Code loaded, not code run").
  const { default: autocannon } = await import('autocannon')
  const { child, port } = await spawnListening(HOOK_SERVER_SCRIPT, [variant], { nodeArgs, env })
  try {
    await sleep(idleS * 1000)
    await autocannon({ url: `http://127.0.0.1:${port}/`, connections: 10, amount: requests })
    // hook-server.js exits when its IPC channel closes.
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.disconnect()
    await exited
  } finally {
    child.kill('SIGKILL')
  }
}

/**
 * Starts benchmark/server.js for a variant. Returns { port, url, pid, call(cmd), pause(), resume(), stop() }.
 */
export async function startServer (variant, { cpu = SERVER_CPU, nodeArgs = [], extraRoutes = 0 } = {}) {
  const child = spawnNode(SERVER_SCRIPT, [variant, '--extra-routes', String(extraRoutes)], { cpu, nodeArgs: [...SERVER_NODE_ARGS, ...nodeArgs] })
  const { port } = await once(child, (m) => m.type === 'listening', `${variant} to listen`)
  let nextId = 0
  async function call (cmd) {
    const id = ++nextId
    const pending = once(child, (m) => m.id === id, `reply to ${cmd}`)
    child.send({ id, cmd })
    const reply = await pending
    if (!reply.ok) throw new Error(`${variant} ${cmd}: ${reply.error}`)
    return reply.value
  }
  let paused = false
  /** SIGSTOP: a paused server uses no CPU at all, not even its timers. */
  function pause () {
    child.kill('SIGSTOP')
    paused = true
  }
  /** SIGCONT, then a moment for timers that came due while stopped to run before anything is measured. */
  async function resume () {
    if (!paused) return
    child.kill('SIGCONT')
    paused = false
    await sleep(250)
  }
  async function stop () {
    if (child.exitCode !== null || child.signalCode !== null) return
    if (paused) child.kill('SIGCONT')
    const exited = new Promise((resolve) => child.once('exit', resolve))
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    try {
      await call('close')
    } catch {
      child.kill('SIGKILL')
    }
    await exited
    clearTimeout(timer)
  }
  return { variant, port, url: `http://127.0.0.1:${port}`, pid: child.pid, call, pause, resume, stop }
}

/**
 * Runs benchmark/load.js with `config`. `beforeStart` runs once the load process is ready and just
 * before it starts (to read the server's CPU at the last moment); resolves with the load result.
 */
export async function runLoad (config, { cpu = LOAD_CPU, beforeStart } = {}) {
  const child = spawnNode(LOAD_SCRIPT, [JSON.stringify(config)], { cpu })
  await once(child, (m) => m.type === 'ready', 'the load generator')
  if (beforeStart) await beforeStart()
  const done = once(child, (m) => m.type === 'result' || m.type === 'error', 'the load result')
  child.send({ type: 'go' })
  const message = await done
  if (message.type === 'error') throw new Error(`load generator failed: ${message.error}`)
  return message.value
}

/** CPU microseconds (user + system, plus reaped children) between two `cpu` replies. */
export function cpuDelta (before, after) {
  return {
    cpuUs: (after.user - before.user) + (after.system - before.system) + (after.children - before.children),
    wallUs: (after.wallNs - before.wallNs) / 1000
  }
}

/** Machine-wide CPU microseconds spent busy (everything but idle and iowait), from /proc/stat. */
export function machineBusyUs () {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number)
    return (user + nice + system + irq + softirq + steal) * CLOCK_TICK_US
  } catch {
    return NaN
  }
}

export const CLOCK_TICK_US = 10_000 // USER_HZ is 100 on Linux

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export function median (values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

export function spread (values) {
  const finite = values.filter((v) => Number.isFinite(v))
  return { min: Math.min(...finite), max: Math.max(...finite) }
}

export function fmt (value, digits = 2) {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a'
}

export function mb (bytes) {
  return (bytes / 1024 / 1024).toFixed(2)
}

/**
 * The variants to run: the comma list in the environment variable `envName`, or `all`; bare always, and
 * server-watch only if it is built. `alsoKnown` accepts requested names outside `all` (paired.js's `hooks:<name>`).
 */
export function selectedVariants (all, envName = 'BENCH_VARIANTS', alsoKnown = () => false) {
  const wanted = process.env[envName] ? process.env[envName].split(',').map((v) => v.trim()) : all
  for (const v of wanted) {
    if (!all.includes(v) && !alsoKnown(v)) throw new Error(`${envName}: unknown variant "${v}"`)
  }
  if (!wanted.includes('bare')) wanted.unshift('bare')
  if (wanted.includes('server-watch') && !pluginBuilt()) {
    console.error('! dist/plugin.js not found (run `npm run build`): skipping the server-watch variant')
    return wanted.filter((v) => v !== 'server-watch')
  }
  return wanted
}

export function log (...args) {
  console.error(...args)
}

/** Every knob, from the environment, with full-run and quick-mode defaults. */
export function benchConfig () {
  const q = (full, quick) => (QUICK ? quick : full)
  return {
    quick: QUICK,
    // Ten rounds of 3 s rather than five of 5 s (about a third more time): a run's figure drifts with the machine
    // more than it scatters within a run, so more, shorter runs side by side make a steadier median.
    rounds: envNumber('BENCH_ROUNDS', q(10, 2)),
    durationS: envNumber('BENCH_DURATION', q(3, 2)),
    warmupS: envNumber('BENCH_WARMUP', q(2, 1)),
    connections: envNumber('BENCH_CONNECTIONS', 50),
    rateFraction: envNumber('BENCH_RATE_FRACTION', 0.5),
    rateStatic: envNumber('BENCH_RATE_STATIC', 0),
    rateParam: envNumber('BENCH_RATE_PARAM', 0),
    maxBackground: envNumber('BENCH_MAX_BACKGROUND', 25),
    retries: envNumber('BENCH_RETRIES', 2),
    memoryRequests: envNumber('BENCH_MEMORY_REQUESTS', q(1_000_000, 100_000)),
    memoryWarmupRequests: envNumber('BENCH_MEMORY_WARMUP', q(100_000, 20_000)),
    memoryExtraRoutes: envNumber('BENCH_MEMORY_EXTRA_ROUTES', 300),
    idleS: envNumber('BENCH_IDLE_SECONDS', q(60, 10)),
    // 35 s: V8's memory reducer runs its full collections within about 30 s of start (all of bare Fastify's CPU in
    // a window that starts at 5 s), and they are start-up, not the idle cost (benchmark/README.md, "Wake-ups").
    idleSettleS: envNumber('BENCH_IDLE_SETTLE', q(35, 2)),
    healthRounds: envNumber('BENCH_HEALTH_ROUNDS', q(3, 1)),
    healthS: envNumber('BENCH_HEALTH_SECONDS', q(10, 4)),
    healthIntervalMs: envNumber('BENCH_HEALTH_INTERVAL_MS', 20)
  }
}

/** True when `moduleUrl` is the script node was started with. */
export function isMain (moduleUrl) {
  return process.argv[1] === fileURLToPath(moduleUrl)
}

/**
 * The fields of a `/proc/<pid>/stat` (or `/proc/<pid>/task/<tid>/stat`) line after the command's name, which may
 * hold spaces and parentheses: [11] and [12] are utime and stime, [13] and [14] cutime and cstime, in clock ticks.
 */
export function procStatFields (path) {
  const stat = readFileSync(path, 'utf8')
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}

/**
 * A temporary folder for the CPU profile of a server process: `nodeArgs` make Node write it there when the process
 * exits (one sample every `intervalUs`), `read()` parses it, `remove()` deletes the folder.
 */
export function cpuProfileFolder (intervalUs) {
  const dir = mkdtempSync(join(tmpdir(), 'sw-prof-'))
  return {
    nodeArgs: ['--cpu-prof', '--cpu-prof-interval', String(intervalUs), '--cpu-prof-dir', dir],
    read () {
      const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'))
      if (file === undefined) throw new Error(`no CPU profile in ${dir}: the server did not exit by itself`)
      return JSON.parse(readFileSync(join(dir, file), 'utf8'))
    },
    remove () { rmSync(dir, { recursive: true, force: true }) }
  }
}
