// Cold code per request (issue 31, "A young process, and cold code" in README.md): how many lines of machine code a
// request runs that are not in the caches when it starts. Side by side on one core (paired.js), the other server runs
// between two requests of this one and evicts the first-level caches and much of the second; a server alone under
// callgrind never meets that, so cache-sim.js finds no difference. Here each variant runs under callgrind's cache
// simulation with this machine's geometry (32 kB first levels; its 1 MB second level as the last),
// fixtures/cold-requests.js evicts it before each request reaches Fastify, and V8's perf map (--perf-basic-prof) names
// the JIT code. Deterministic: the same build gives the same lines to within about 1 %, on a busy machine too.
//
//   npm run build && node benchmark/cold-code.js        (bare, the floor, the plugin's hooks, the plugin; static route)
//   node benchmark/cold-code.js 'timed onRequest and onSend' 'server-watch request hooks'   (hook-server.js mechanisms)
//
// Per request: I1mr, the lines of code fetched into the first level (each a miss of 64 bytes); ILmr, those that came
// from beyond the second level; and the JavaScript functions that fetched the most, by file and line.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { HOOK_SERVER_SCRIPT, isMain, log, SERVER_SCRIPT } from './common.js'
import { callgrindConfig, countVariant } from './instructions.js'
import { ROUTES } from './throughput.js'

/** This machine's caches (`lscpu`): 32 kB, 8-way first levels, 1 MB 16-way second level per core. */
const GEOMETRY = ['--I1=32768,8,64', '--D1=32768,8,64', '--LL=1048576,16,64']
const DEFAULT_TARGETS = ['bare', 'timed onRequest and onSend', 'server-watch request hooks', 'server-watch']
/** Functions listed: those of the plugin's build, of Fastify's hook runners, and of the benchmark's own hooks. */
const LISTED = /\/dist\/|fastify\/lib\/hooks\.js|benchmark\/hook-server\.js/

/** JIT code ranges from V8's perf map, the latest entry first where code was freed and its address reused. */
function perfMap (pid) {
  const entries = readFileSync(`/tmp/perf-${pid}.map`, 'utf8').split('\n').filter(Boolean).map((line, order) => {
    const [start, size, ...name] = line.split(' ')
    return { start: parseInt(start, 16), end: parseInt(start, 16) + parseInt(size, 16), name: name.join(' '), order }
  })
  return (address) => {
    let found = null
    for (const entry of entries) if (entry.start <= address && address < entry.end && (found === null || entry.order > found.order)) found = entry
    // One JS function in its tiers (~ interpreted, ^ baseline, * optimised) counts as one.
    return found === null ? 'JIT code not in the map' : found.name.replace(/^JS:[*^~+]?/, '')
  }
}

/** The pid of the process a callgrind dump was taken from: its perf map is /tmp/perf-<pid>.map. */
const dumpPid = (dumpPath) => /^pid: (\d+)/m.exec(readFileSync(dumpPath, 'utf8').slice(0, 4096))[1]

/** Events by function, per request, from a kept dump of process `pid`: callgrind_annotate's listing, JIT addresses named. */
export function coldLinesByFunction (dumpPath, pid, requests) {
  const nameOf = perfMap(pid)
  const listing = execFileSync('callgrind_annotate', ['--threshold=100', '--show=Ir,I1mr,ILmr', '--sort=I1mr', dumpPath], { maxBuffer: 64 << 20 }).toString()
  const byFunction = new Map()
  for (const line of listing.split('\n')) {
    const match = /^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?([\d,]+)\s+(?:\([^)]*\)\s+)?([\d,]+)\s+(?:\([^)]*\)\s+)?(\S.*)$/.exec(line)
    if (match === null || match[4].includes('PROGRAM TOTALS')) continue
    const jit = /^\?\?\?:0x([0-9a-f]+) \[\?\?\?\]/.exec(match[4])
    const name = jit === null ? match[4].replace(/^\?\?\?:/, '') : nameOf(parseInt(jit[1], 16))
    const sum = byFunction.get(name) ?? { Ir: 0, I1mr: 0, ILmr: 0 }
    sum.Ir += Number(match[1].replaceAll(',', '')) / requests
    sum.I1mr += Number(match[2].replaceAll(',', '')) / requests
    sum.ILmr += Number(match[3].replaceAll(',', '')) / requests
    byFunction.set(name, sum)
  }
  return byFunction
}

export async function coldCode (targets, { route = ROUTES.find((r) => r.name === 'static'), top = 8 } = {}) {
  const cfg = callgrindConfig(1)
  const preload = [process.env.BENCH_PRELOAD, './fixtures/cold-requests.js'].filter(Boolean).join(',')
  const results = []
  for (const target of targets) {
    const script = target === 'bare' || target === 'server-watch' ? SERVER_SCRIPT : HOOK_SERVER_SCRIPT
    const keep = mkdtempSync(join(tmpdir(), 'sw-cold-'))
    try {
      const { events, requests } = await countVariant(target, route, cfg, script, true,
        { cacheArgs: GEOMETRY, nodeArgs: ['--perf-basic-prof'], env: { BENCH_PRELOAD: preload }, keep })
      const dump = join(keep, readdirSync(keep)[0])
      const pid = dumpPid(dump)
      const byFunction = coldLinesByFunction(dump, pid, requests)
      rmSync(`/tmp/perf-${pid}.map`, { force: true })
      const listed = [...byFunction].filter(([name]) => LISTED.test(name)).sort((a, b) => b[1].I1mr - a[1].I1mr).slice(0, top)
      results.push({ target, I1mr: events.I1mr, ILmr: events.ILmr, listed })
      log(`cold-code ${target}: I1mr ${events.I1mr.toFixed(0)} ILmr ${events.ILmr.toFixed(0)} a request`)
    } finally {
      rmSync(keep, { recursive: true, force: true })
    }
  }
  return results
}

if (isMain(import.meta.url)) {
  const targets = process.argv.slice(2).length > 0 ? process.argv.slice(2) : DEFAULT_TARGETS
  const results = await coldCode(targets)
  console.log('\n| target (static route) | lines of code fetched a request (I1mr) | from beyond the second level (ILmr) |\n| --- | --- | --- |')
  for (const r of results) console.log(`| ${r.target} | ${r.I1mr.toFixed(0)} | ${r.ILmr.toFixed(0)} |`)
  for (const r of results) {
    console.log(`\n${r.target}: the functions of the plugin's build, Fastify's hook runners and hook-server.js, lines a request`)
    for (const [name, sum] of r.listed) console.log(`  ${sum.I1mr.toFixed(1).padStart(6)} ${sum.ILmr.toFixed(1).padStart(6)}  ${name}`)
  }
}
