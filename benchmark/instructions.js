// Instructions per request, counted by valgrind (callgrind): a figure that other processes on the
// machine cannot move, for when wall-clock CPU is too noisy to resolve a 2% difference.
//
//   node benchmark/instructions.js            (or BENCH_ONLY=instructions node benchmark/run.js)
//
// Each variant's server runs under `valgrind --tool=callgrind --instr-atstart=no` (uninstrumented,
// so the warm-up is only ~10x slower than native). Then, with instrumentation switched on by
// callgrind_control: chunks of requests until the count per request is stable (the JIT settles),
// exactly N requests, then an idle window (timers). Instructions
// per request = (instructions during the load - the idle rate x the load's duration) / N. Valgrind
// slows the server ~50x but not its timers: the idle rate is subtracted so that time-driven work
// (timers, event-loop-delay monitor) does not masquerade as per-request work, and server-watch's
// sampling loop is set to once an hour (SAMPLE_INTERVAL_MS); that cost is what benchmark/idle.js
// measures. User-space instructions only: the kernel's share (syscalls, loopback TCP), the same for
// every variant, is not counted, so these ratios are larger than CPU ratios would be.
import { execFileSync, spawn } from 'node:child_process'
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  envNumber, isMain, log, median, QUICK, runLoad, SERVER_NODE_ARGS, SERVER_SCRIPT, selectedVariants, sleep, spread, VARIANTS
} from './common.js'
import { ROUTES } from './throughput.js'

const CONNECTIONS = 10
/**
 * Cache geometry for cache-sim.js (BENCH_CACHE_SIM_ARGS='--I1=32768,8,64 --D1=32768,8,64 --LL=1048576,16,64': this
 * machine's first level and its per-core second level). Without it, valgrind takes the host's: its last level is
 * the 32 MB third level, shared with the neighbours that a side-by-side run has.
 */
const CACHE_SIM_ARGS = (process.env.BENCH_CACHE_SIM_ARGS ?? '').split(' ').filter(Boolean)
/**
 * server-watch samples once an hour here instead of once a second. A sample costs millions of instructions
 * under valgrind, and how many samples fall inside a measured window is chance: with the default interval the
 * same build measured 61,517 and 65,459 instructions per request in two runs (bare Fastify: 61,867 and 62,108).
 * The sampling loop is time-driven, not per request; benchmark/idle.js measures it at the default interval.
 */
const SAMPLE_INTERVAL_MS = 3_600_000

function hasValgrind () {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' })
    execFileSync('callgrind_control', ['-h'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

function control (pid, ...args) {
  execFileSync('callgrind_control', [...args, String(pid)], { stdio: 'ignore' })
}

/** Total Ir of the newest dump file written since `seen` (every event of the totals line with `events`). */
function readDump (dir, seen, events = false) {
  const files = readdirSync(dir).filter((f) => /\.\d+$/.test(f) && !seen.has(f))
  if (files.length !== 1) throw new Error(`expected one new callgrind dump, found ${files.length}`)
  seen.add(files[0])
  const text = readFileSync(join(dir, files[0]), 'utf8')
  const match = /^(?:summary|totals): (\d+)/m.exec(text)
  if (!match) throw new Error(`no summary in ${files[0]}`)
  if (!events) return Number(match[1])
  const names = /^events: (.+)$/m.exec(text)[1].trim().split(/\s+/)
  const values = /^(?:summary|totals): (.+)$/m.exec(text)[1].trim().split(/\s+/).map(Number)
  return Object.fromEntries(names.map((name, i) => [name, values[i] ?? 0]))
}

/**
 * `simulate`: callgrind's cache and branch simulation (--cache-sim=yes --branch-sim=yes): the result then has
 * `events`, each event per request (Ir, D1mr, DLmr, Bcm, ...), counted the same way as the instructions.
 * `extra` (cold-code.js): `cacheArgs` in place of BENCH_CACHE_SIM_ARGS, `nodeArgs` after BENCH_NODE_ARGS, `env` on
 * top of this process's, and `keep`, a folder where the measured window's dump is copied (as BENCH_CALLGRIND_KEEP).
 */
export async function countVariant (variant, route, cfg, script = SERVER_SCRIPT, simulate = false, extra = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'sw-callgrind-'))
  const child = spawn('valgrind', [
    '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${join(dir, 'cg.out')}`,
    ...(simulate ? ['--cache-sim=yes', '--branch-sim=yes', ...(extra.cacheArgs ?? CACHE_SIM_ARGS)] : []),
    process.execPath, ...SERVER_NODE_ARGS, ...(extra.nodeArgs ?? []), script, variant
  ], { stdio: ['ignore', 'ignore', 'ignore', 'ipc'], env: { ...process.env, BENCH_SAMPLE_INTERVAL_MS: String(SAMPLE_INTERVAL_MS), ...extra.env } })
  try {
    const port = await new Promise((resolve, reject) => {
      child.on('message', (m) => { if (m.type === 'listening') resolve(m.port) })
      child.once('exit', (code) => reject(new Error(`valgrind ${variant} exited (${code})`)))
    })
    const url = `http://127.0.0.1:${port}`
    const load = (amount) => runLoad({ kind: 'fixed', url, path: route.path, connections: CONNECTIONS, amount }, { cpu: null })
    await load(cfg.warmup)
    const seen = new Set()
    control(child.pid, '-i', 'on')
    // The optimising compiler is still at work for a few thousand requests after instrumentation is switched
    // on (measured: 188k, 155k, 81k, 73k, 58k, 58k instructions per request over successive chunks of 1,000
    // on bare Fastify). At least `minChunks` chunks are run, and more until two in a row agree within 3 %;
    // only then is anything counted.
    const chunks = []
    for (let i = 0; i < cfg.maxChunks; i++) {
      control(child.pid, '-z')
      const { requests } = await load(cfg.chunk)
      control(child.pid, '-d')
      chunks.push(readDump(dir, seen) / requests)
      const [a, b] = chunks.slice(-2)
      if (chunks.length >= cfg.minChunks && Math.abs(a - b) / b < 0.03) break
    }
    // The load is counted first and the idle rate after it: a server left idle for a few seconds first counted
    // about 5 % more per request afterwards on bare Fastify (59,433 after 3 s, 61,929 after 6 s; the plugin's app
    // about the same either way), V8 having changed its heap or code while idle, which no busy server does.
    control(child.pid, '-z')
    let started = Date.now()
    const measured = await load(cfg.requests)
    control(child.pid, '-d')
    const loadEvents = readDump(dir, seen, true)
    // BENCH_CALLGRIND_KEEP=<dir>: the measured window's dump is kept there, for callgrind_annotate (function by function).
    const keep = extra.keep ?? process.env.BENCH_CALLGRIND_KEEP
    if (keep) {
      const dump = [...seen].at(-1)
      copyFileSync(join(dir, dump), join(keep, `${variant.replace(/\W+/g, '-')}.${route.name}.${measured.requests}.cg`))
    }
    const loadMs = Date.now() - started
    control(child.pid, '-z')
    started = Date.now()
    await sleep(cfg.idleS * 1000)
    control(child.pid, '-d')
    const idleEvents = readDump(dir, seen, true)
    const idleMs = Date.now() - started
    const per = (name) => (loadEvents[name] - idleEvents[name] / idleMs * loadMs) / measured.requests
    const loadIr = loadEvents.Ir
    const idleIr = idleEvents.Ir
    const result = { perRequest: per('Ir'), requests: measured.requests, loadIr, loadMs, idleIr, idleMs, warmupChunks: chunks.map(Math.round) }
    if (simulate) result.events = Object.fromEntries(Object.keys(loadEvents).map((name) => [name, per(name)]))
    return result
  } finally {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The knobs of a count under callgrind (BENCH_INSTR_*), with `rounds` the caller's default: also cache-sim.js's and cold-code.js's. */
export function callgrindConfig (rounds) {
  return {
    rounds: envNumber('BENCH_INSTR_ROUNDS', rounds),
    requests: envNumber('BENCH_INSTR_REQUESTS', QUICK ? 1000 : 4000),
    warmup: envNumber('BENCH_INSTR_WARMUP', QUICK ? 3000 : 10_000),
    chunk: envNumber('BENCH_INSTR_CHUNK', 1000),
    minChunks: 4,
    maxChunks: envNumber('BENCH_INSTR_MAX_CHUNKS', 12),
    // Long enough that the sampling loop's once-a-second work is averaged over several samples.
    idleS: envNumber('BENCH_INSTR_IDLE', QUICK ? 3 : 6)
  }
}

export async function runInstructions () {
  if (!hasValgrind()) {
    log('! valgrind (callgrind_control) not found: skipping instruction counts (apt-get install valgrind)')
    return null
  }
  const cfg = callgrindConfig(QUICK ? 1 : 3)
  const variants = selectedVariants(VARIANTS)
  const rounds = []
  for (let r = 0; r < cfg.rounds; r++) {
    const figures = {}
    for (const variant of variants) {
      figures[variant] = {}
      for (const route of ROUTES) {
        figures[variant][route.name] = await countVariant(variant, route, cfg)
        log(`instructions round ${r + 1}/${cfg.rounds} ${variant.padEnd(15)} ${route.name.padEnd(6)}` +
          ` ${Math.round(figures[variant][route.name].perRequest)} per request`)
      }
    }
    rounds.push(figures)
  }
  const summary = {}
  for (const variant of variants) {
    summary[variant] = {}
    for (const route of ROUTES) {
      const values = rounds.map((f) => f[variant][route.name].perRequest)
      const ratios = rounds.map((f) => f[variant][route.name].perRequest / f.bare[route.name].perRequest)
      summary[variant][route.name] = { median: median(values), ratio: { median: median(ratios), ...spread(ratios), perRound: ratios } }
    }
  }
  return { config: cfg, variants, rounds, summary }
}

if (isMain(import.meta.url)) {
  console.log(JSON.stringify((await runInstructions())?.summary, null, 2))
}
