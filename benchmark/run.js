// The whole benchmark: throughput and CPU rounds, memory, idle cost, /health under load; then
// benchmark/RESULTS.md. `npm run bench` builds first. Knobs: see benchmark/README.md.
//   BENCH_QUICK=1          a smoke run (minutes, not a result: written to a temporary file)
//   BENCH_ONLY=memory,idle run some parts only: throughput, memory, idle, health, instructions
//   BENCH_INSTRUCTIONS=1   add the valgrind instruction counts (about 10 more minutes) to a full run
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { benchConfig, CONTROL, fmt, log, mb, pinned, QUICK, SERVER_CPU, LOAD_CPU } from './common.js'
import { runHealth } from './health.js'
import { runIdle } from './idle.js'
import { runMemory } from './memory.js'
import { runInstructions } from './instructions.js'
import { ROUTES, runThroughput } from './throughput.js'

const DEFAULT_PARTS = ['throughput', 'memory', 'idle', 'health']
const PARTS = [...DEFAULT_PARTS, 'instructions']
const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')

const TARGETS = {
  cpuRatio: 1.02,
  heapGrowthBytes: 5 * 1024 * 1024,
  idlePercent: 0.5,
  healthP99DifferenceMs: 5
}

function versionOf (name) {
  try {
    return JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version
  } catch {
    return 'n/a'
  }
}

function gitDescription () {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'lib'], { cwd: root, encoding: 'utf8' }).trim()
    return dirty ? `${commit} + uncommitted changes in lib/` : commit
  } catch {
    return 'n/a'
  }
}

const ratio = (r) => `${fmt(r.median, 3)}x (${fmt(r.min, 3)}–${fmt(r.max, 3)})`
const pass = (ok) => (ok ? 'yes' : '**no**')

function throughputSection (t, lines) {
  lines.push('## Throughput and CPU per request', '')
  lines.push(`Fixed rates (${t.calibration ? 'calibrated on bare Fastify' : 'set by BENCH_RATE_*'}):` +
    ` static ${t.rates.static} req/s, param ${t.rates.param} req/s` +
    (t.calibration ? ` (bare's maximum at calibration: static ${Math.round(t.calibration.static)}, param ${Math.round(t.calibration.param)} req/s).` : '.'), '')
  lines.push('Ratios to bare Fastify in the same round: median over the rounds, (min–max) across rounds.', '')
  lines.push('| variant | route | CPU/request at fixed rate | CPU/request at saturation | req/s at saturation | µs/request at fixed rate | req/s at saturation |')
  lines.push('| --- | --- | --- | --- | --- | --- | --- |')
  for (const variant of t.variants) {
    for (const route of ROUTES) {
      const s = t.summary[variant][route.name]
      const ratios = variant === 'bare'
        ? ['1 (reference)', '1 (reference)', '1 (reference)']
        : [ratio(s.fixedCpuPerReq.ratio), ratio(s.saturatedCpuPerReq.ratio), ratio(s.saturatedReqPerSec.ratio)]
      lines.push(`| ${variant} | ${route.name} \`GET ${route.path}\` | ${ratios.join(' | ')} |` +
        ` ${fmt(s.fixedCpuPerReq.median, 1)} | ${Math.round(s.saturatedReqPerSec.median)} |`)
    }
  }
  lines.push('')
}

function splitSection (t, lines) {
  lines.push('### Where the CPU goes at the fixed rate', '')
  lines.push('Medians over the rounds, µs per request. user = JavaScript, V8 and libuv in the server process (GC' +
    ' threads included); system = the kernel on its behalf (loopback TCP, epoll), which no plugin changes; GC' +
    ' pause = main-thread time in garbage collection (part of user); collections per 10,000 requests.', '')
  lines.push('| variant | route | user | system | GC pause | collections / 10k requests | user ratio to bare |')
  lines.push('| --- | --- | --- | --- | --- | --- | --- |')
  for (const variant of t.variants) {
    for (const route of ROUTES) {
      const s = t.summary[variant][route.name]
      lines.push(`| ${variant} | ${route.name} | ${fmt(s.fixedUserPerReq.median)} | ${fmt(s.fixedSystemPerReq.median)} |` +
        ` ${fmt(s.fixedGcPausePerReq.median)} | ${fmt(s.fixedGcPer10k.median, 1)} |` +
        ` ${variant === 'bare' ? '1 (reference)' : ratio(s.fixedUserPerReq.ratio)} |`)
    }
  }
  lines.push('')
}

function rawSection (t, lines) {
  lines.push('### Raw figures per round', '')
  lines.push('sat = saturated, fix = fixed rate; µs = server CPU per request; bg = CPU used by other processes on the' +
    ' machine during the run, in % of one core (a run over the limit was retried; the least disturbed attempt is kept).', '')
  lines.push('| round | variant | route | sat req/s | sat µs | sat server CPU % | fix req/s | fix µs | bg % sat / fix | attempts |')
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |')
  t.rounds.forEach((round, i) => {
    for (const variant of round.order) {
      for (const route of ROUTES) {
        const { saturated: s, fixed: f } = round.figures[variant][route.name]
        lines.push(`| ${i + 1} | ${variant} | ${route.name} | ${Math.round(s.reqPerSec)} | ${fmt(s.cpuPerReqUs, 1)} |` +
          ` ${fmt(s.cpuPercent, 0)} | ${Math.round(f.reqPerSec)} | ${fmt(f.cpuPerReqUs, 1)} |` +
          ` ${fmt(s.backgroundPercent, 0)} / ${fmt(f.backgroundPercent, 0)} | ${s.attempts} / ${f.attempts} |`)
      }
    }
  })
  lines.push('')
}

function memorySection (m, lines) {
  lines.push('## Memory', '')
  lines.push(`${m.requests.toLocaleString('en')} requests over as many distinct URLs (half \`/users/<n>\`, half not-found` +
    ` \`/nope/<n>\`), after a warm-up of ${m.warmup.toLocaleString('en')} distinct URLs and 100 requests to each of` +
    ` ${m.extraRoutes} extra routes \`/items<k>/:id\` (more than \`maxRoutes\`). Heap used after forced GC.`, '')
  lines.push('| variant | heap after warm-up | heap after | growth | RSS after | endpoint keys after warm-up / at the end | req/s |')
  lines.push('| --- | --- | --- | --- | --- | --- | --- |')
  for (const r of Object.values(m.results)) {
    lines.push(`| ${r.variant} | ${mb(r.heapAfterWarmup)} MB | ${mb(r.heapAfter)} MB | ${mb(r.heapGrowth)} MB | ${mb(r.rssAfter)} MB |` +
      ` ${r.endpointKeys === null ? 'n/a' : `${r.endpointKeysAfterWarmup} / ${r.endpointKeys}`} | ${Math.round(r.reqPerSec)} |`)
  }
  lines.push('')
}

function idleSection (idle, lines) {
  lines.push('## Idle cost', '')
  lines.push(`CPU of an idle server over ${idle.seconds} s (default sampling interval), all variants idling side by side;` +
    ' includes reaped child processes.', '')
  lines.push('| variant | CPU in the window | % of one core |')
  lines.push('| --- | --- | --- |')
  for (const [variant, r] of Object.entries(idle.results)) {
    lines.push(`| ${variant} | ${fmt(r.cpuMs, 1)} ms | ${fmt(r.percentOfCore, 3)} % |`)
  }
  lines.push('')
}

function healthSection (h, lines, cfg) {
  lines.push('## `/health` under load', '')
  lines.push('server-watch app; autocannon saturates `GET /` while a probe sends one request every' +
    ` ${cfg.healthIntervalMs} ms to \`/health\` or to \`/\`, alternating between rounds. Latency in ms.`, '')
  lines.push('| probe | p50 | p99 | max | p50 with no load | p99 with no load |')
  lines.push('| --- | --- | --- | --- | --- | --- |')
  for (const path of ['/health', '/']) {
    const s = h.summary[path]
    lines.push(`| \`${path}\` | ${fmt(s.p50)} | ${fmt(s.p99)} | ${fmt(s.max)} | ${fmt(h.unloaded[path].p50)} | ${fmt(h.unloaded[path].p99)} |`)
  }
  lines.push('', `Median per-round p99 difference (\`/health\` − \`/\`): ${fmt(h.summary.p99DifferenceMs)} ms.`, '')
  lines.push('| round | probe | p50 | p90 | p99 | max | probes | load req/s |')
  lines.push('| --- | --- | --- | --- | --- | --- | --- | --- |')
  h.rounds.forEach((round, i) => {
    for (const [path, r] of Object.entries(round)) {
      lines.push(`| ${i + 1} | \`${path}\` | ${fmt(r.p50)} | ${fmt(r.p90)} | ${fmt(r.p99)} | ${fmt(r.max)} | ${r.probes} | ${Math.round(r.loadReqPerSec)} |`)
    }
  })
  lines.push('')
}

function instructionsSection (ins, lines) {
  lines.push('## Instructions per request (valgrind)', '')
  lines.push(`User-space instructions per request counted by callgrind over ${ins.config.requests} requests per run,` +
    ' once the count per request is stable, with the idle rate (timers) subtracted and server-watch sampling once an hour' +
    ' (its sampling loop is the idle figure\'s business);' +
    ` ${ins.config.rounds} rounds; other processes cannot move this figure.` +
    ' The kernel\'s share (syscalls, loopback TCP) is not counted, and every instruction counts alike: measured' +
    ' side by side (benchmark/paired.js), server-watch and under-pressure cost more CPU time than these ratios say.', '')
  lines.push('| variant | route | instructions per request | ratio to bare: median (min–max) |')
  lines.push('| --- | --- | --- | --- |')
  for (const variant of ins.variants) {
    for (const route of ROUTES) {
      const s = ins.summary[variant][route.name]
      lines.push(`| ${variant} | ${route.name} | ${Math.round(s.median).toLocaleString('en')} | ${variant === 'bare' ? '1 (reference)' : ratio(s.ratio)} |`)
    }
  }
  lines.push('')
}

function targetsSection (results, lines) {
  const rows = []
  const t = results.throughput
  if (t?.summary['server-watch']) {
    for (const route of ROUTES) {
      const r = t.summary['server-watch'][route.name].fixedCpuPerReq.ratio
      rows.push([`CPU/request, ${route.name} route, at fixed rate`, `<= ${TARGETS.cpuRatio}x`, ratio(r), pass(r.median <= TARGETS.cpuRatio)])
    }
    const control = t.summary[CONTROL]
    if (control) {
      rows.push([`CPU/request at fixed rate, bare Fastify against itself (\`${CONTROL}\`): what this run can resolve`, '(no target)',
        ROUTES.map((route) => `${route.name} ${ratio(control[route.name].fixedCpuPerReq.ratio)}`).join(', '), ''])
    }
    for (const route of ROUTES) {
      const r = t.summary['server-watch'][route.name].saturatedCpuPerReq.ratio
      rows.push([`CPU/request, ${route.name} route, at saturation`, `<= ${TARGETS.cpuRatio}x`, ratio(r), pass(r.median <= TARGETS.cpuRatio)])
    }
  }
  const ins = results.instructions?.summary['server-watch']
  if (ins) {
    for (const route of ROUTES) {
      const r = ins[route.name].ratio
      rows.push([`instructions/request, ${route.name} route (valgrind)`, `<= ${TARGETS.cpuRatio}x`, ratio(r), pass(r.median <= TARGETS.cpuRatio)])
    }
  }
  const sw = results.memory?.results['server-watch']
  if (sw) {
    rows.push(['heap growth after the distinct URLs', `<= ${mb(TARGETS.heapGrowthBytes)} MB`, `${mb(sw.heapGrowth)} MB`, pass(sw.heapGrowth <= TARGETS.heapGrowthBytes)])
    rows.push(['endpoint keys at the end', '<= maxRoutes (200) + 2 shared buckets', String(sw.endpointKeys), pass(sw.endpointKeys <= 202)])
  }
  const idle = results.idle?.results
  if (idle?.['server-watch']) {
    const cost = idle['server-watch'].percentOfCore - idle.bare.percentOfCore
    rows.push(['idle sampling cost (server-watch − bare)', `<= ${TARGETS.idlePercent} % of a core`, `${fmt(cost, 3)} %`, pass(cost <= TARGETS.idlePercent)])
  }
  if (results.health) {
    const d = results.health.summary.p99DifferenceMs
    rows.push(['`/health` p99 − `/` p99 under load', `within ${TARGETS.healthP99DifferenceMs} ms`, `${fmt(d)} ms`, pass(d <= TARGETS.healthP99DifferenceMs)])
  }
  if (rows.length === 0) return
  lines.push('## Targets (issue 5)', '')
  lines.push('| figure | target | measured | met |', '| --- | --- | --- | --- |')
  for (const row of rows) lines.push(`| ${row.join(' | ')} |`)
  lines.push('')
}

function render (results, cfg, startedAt, minutes, source) {
  const lines = ['# Benchmark results', '']
  lines.push(`Reproduce with \`npm run bench\` (methodology in [README.md](./README.md)).${QUICK ? ' **Quick mode: a smoke run, not a result.**' : ''}`, '')
  lines.push(`- date: ${startedAt.toISOString()}, ${minutes.toFixed(1)} minutes`)
  lines.push(`- machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores; server pinned to CPU ${SERVER_CPU},` +
    ` load generator to CPU ${LOAD_CPU}${pinned() ? '' : ' (**taskset missing: not pinned**)'}`)
  lines.push(`- node ${process.version}; fastify ${versionOf('fastify')}, fastify-metrics ${versionOf('fastify-metrics')},` +
    ` @fastify/under-pressure ${versionOf('@fastify/under-pressure')}, autocannon ${versionOf('autocannon')}; fastify-server-watch at ${source}`)
  lines.push(`- ${cfg.rounds} rounds of ${cfg.durationS} s runs, ${cfg.connections} connections, ${cfg.warmupS} s warm-up per route per server`, '')
  targetsSection(results, lines)
  if (results.throughput) {
    throughputSection(results.throughput, lines)
    splitSection(results.throughput, lines)
  }
  if (results.memory) memorySection(results.memory, lines)
  if (results.idle) idleSection(results.idle, lines)
  if (results.health) healthSection(results.health, lines, cfg)
  if (results.instructions) instructionsSection(results.instructions, lines)
  if (results.throughput) rawSection(results.throughput, lines)
  return lines.join('\n')
}

const cfg = benchConfig()
const only = process.env.BENCH_ONLY
  ? process.env.BENCH_ONLY.split(',').map((p) => p.trim())
  : [...DEFAULT_PARTS, ...(process.env.BENCH_INSTRUCTIONS === '1' ? ['instructions'] : [])]
for (const part of only) {
  if (!PARTS.includes(part)) throw new Error(`BENCH_ONLY: unknown part "${part}"; expected ${PARTS.join(', ')}`)
}
const startedAt = new Date()
// Read before the run: the lead may commit while it goes on, and dist/ was built from this state.
const source = gitDescription()
const results = {}
const runners = { throughput: runThroughput, memory: runMemory, idle: runIdle, health: runHealth, instructions: () => runInstructions() }
for (const part of PARTS) {
  if (!only.includes(part)) continue
  log(`== ${part}`)
  results[part] = await runners[part](cfg)
}
const minutes = (Date.now() - startedAt.getTime()) / 60_000
const out = process.env.BENCH_OUT ?? (QUICK || DEFAULT_PARTS.some((part) => !only.includes(part))
  ? join(tmpdir(), 'fastify-server-watch-bench', 'RESULTS.md')
  : join(here, 'RESULTS.md'))
mkdirSync(dirname(out), { recursive: true })
const markdown = render(results, cfg, startedAt, minutes, source)
writeFileSync(out, markdown + '\n')
writeFileSync(out.replace(/\.md$/, '.json'), JSON.stringify({ config: cfg, results }, null, 2) + '\n')
console.log(markdown)
log(`\nwrote ${out} (and the raw figures as JSON beside it) in ${minutes.toFixed(1)} minutes`)
