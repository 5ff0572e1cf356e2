// Server CPU per request, measured with bare Fastify and one other variant serving at the same time, side by side
// on the same core, each at the same fixed rate from its own load generator. Whatever slows the machine during a
// run (other tenants, frequency, the kernel) slows both servers at once, so their ratio keeps far less of it than
// the ratio of two runs taken one after the other, as throughput.js takes them. See "Side by side" in README.md.
//
//   npm run build && node benchmark/paired.js                     (about 5 minutes per variant)
//   BENCH_PAIR_VARIANTS=server-watch BENCH_PAIR_ROUNDS=40 node benchmark/paired.js
//   BENCH_PAIR_VARIANTS='hooks:timed onRequest and onSend' node benchmark/paired.js   (a mechanism of hook-server.js)
//   BENCH_PAIR_RATE=8000 node benchmark/paired.js                 (req/s per server; 10,000 by default)
//   BENCH_PAIR_IDLE_S=15 node benchmark/paired.js                 (both idle first, as a server before its traffic)
//
// Each round starts a fresh pair (so no process's JIT or heap state decides every round), warms both up, then
// measures both routes; which server starts first, and whose load starts first, alternate between rounds.
import { writeFileSync } from 'node:fs'
import { benchConfig, CONTROL, envNumber, isMain, log, median, selectedVariants, sleep, spread, startServer, VARIANTS } from './common.js'
import { measureOnce, ROUTES } from './throughput.js'

export function pairedConfig () {
  const cfg = benchConfig()
  return {
    // Each is paired with bare Fastify; `hooks:<name>` is a mechanism of hook-server.js (`hooks:timed onRequest and onSend`).
    variants: selectedVariants([CONTROL, ...VARIANTS], 'BENCH_PAIR_VARIANTS', (v) => v.startsWith('hooks:')).filter((v) => v !== 'bare'),
    rounds: envNumber('BENCH_PAIR_ROUNDS', 20),
    ratePerServer: envNumber('BENCH_PAIR_RATE', 10_000),
    // Seconds both servers idle after start, before the warm-up: V8's memory reducer makes its full collections then,
    // which a server loaded at once never meets (benchmark/README.md, "nextTick's maps").
    idleS: envNumber('BENCH_PAIR_IDLE_S', 0),
    // Each load generator's connections: half of the other scripts' 50, so that the pair gets the same total.
    connections: Math.max(1, Math.round(cfg.connections / 2)),
    durationS: cfg.durationS,
    warmupS: cfg.warmupS
  }
}

/** Both servers under load at once on `path`, each measured as throughput.js measures one run. */
function measurePair (servers, path, cfg, durationS = cfg.durationS) {
  const load = { path, connections: cfg.connections, duration: durationS, overallRate: cfg.ratePerServer }
  return Promise.all(servers.map((server) => measureOnce(server, load)))
}

async function runRound (variant, round, cfg) {
  // Alternated, so that neither server is always the first to start, to be loaded or to be read.
  const order = round % 2 === 0 ? ['bare', variant] : [variant, 'bare']
  const servers = []
  try {
    for (const name of order) servers.push(await startServer(name))
    if (cfg.idleS > 0) await sleep(cfg.idleS * 1000)
    const figures = { bare: {}, [variant]: {} }
    for (const route of ROUTES) {
      await measurePair(servers, route.path, cfg, cfg.warmupS)
      const measured = await measurePair(servers, route.path, cfg)
      measured.forEach((m, i) => {
        if (m.failures > 0) log(`  ! ${order[i]} ${route.name}: ${m.failures} failed requests`)
        // Short of its rate, a server was saturated: its CPU per request is then a saturated figure, not this one's.
        if (m.reqPerSec < cfg.ratePerServer * 0.97) {
          log(`  ! ${order[i]} ${route.name}: ${Math.round(m.reqPerSec)} of ${cfg.ratePerServer} req/s; the core is saturated (lower BENCH_PAIR_RATE)`)
        }
        figures[order[i]][route.name] = m
      })
    }
    return figures
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
  }
}

export async function runPaired (cfg = pairedConfig()) {
  const results = {}
  for (const variant of cfg.variants) {
    const rounds = []
    for (let r = 0; r < cfg.rounds; r++) {
      const figures = await runRound(variant, r, cfg)
      rounds.push(figures)
      log(`pair ${variant.padEnd(15)} round ${r + 1}/${cfg.rounds}: ` + ROUTES.map((route) =>
        `${route.name} ${figures.bare[route.name].cpuPerReqUs.toFixed(2)} / ${figures[variant][route.name].cpuPerReqUs.toFixed(2)} µs` +
        ` (${(figures[variant][route.name].cpuPerReqUs / figures.bare[route.name].cpuPerReqUs).toFixed(3)}x)`).join(', '))
    }
    results[variant] = Object.fromEntries(ROUTES.map((route) => {
      const ratios = rounds.map((f) => f[variant][route.name].cpuPerReqUs / f.bare[route.name].cpuPerReqUs)
      return [route.name, {
        ratio: { median: median(ratios), ...spread(ratios), quartiles: quartiles(ratios), perRound: ratios },
        bareCpuPerReqUs: median(rounds.map((f) => f.bare[route.name].cpuPerReqUs)),
        cpuPerReqUs: median(rounds.map((f) => f[variant][route.name].cpuPerReqUs)),
        bareGcPer10k: median(rounds.map((f) => f.bare[route.name].gcPer10kRequests)),
        gcPer10k: median(rounds.map((f) => f[variant][route.name].gcPer10kRequests)),
        // The split (issue 31): user time is the JavaScript, system time the kernel's share, which a plugin that
        // makes no system call should not move; and the collections' pause per request.
        userRatio: median(rounds.map((f) => f[variant][route.name].userPerReqUs / f.bare[route.name].userPerReqUs)),
        systemRatio: median(rounds.map((f) => f[variant][route.name].systemPerReqUs / f.bare[route.name].systemPerReqUs)),
        bareGcPausePerReqUs: median(rounds.map((f) => f.bare[route.name].gcPausePerReqUs)),
        gcPausePerReqUs: median(rounds.map((f) => f[variant][route.name].gcPausePerReqUs))
      }]
    }))
  }
  return results
}

/** The middle half of the per-round ratios: how far a median of this many rounds can be trusted. */
function quartiles (values) {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b)
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * (sorted.length - 1) + 0.5))]
  return { q1: at(0.25), q3: at(0.75) }
}

export function pairedTable (results, cfg) {
  const lines = [
    `Server CPU per request, each variant side by side with bare Fastify on one core, ${cfg.ratePerServer} req/s each,` +
    ` ${cfg.rounds} rounds of ${cfg.durationS} s${cfg.idleS > 0 ? `, each after ${cfg.idleS} s idle` : ''}; ratio to bare Fastify in the same run: median (middle half; min–max).`,
    '',
    '| variant | route | ratio to bare | bare µs/request | variant µs/request | user, system ratio | collections / 10k requests (bare / variant) | GC pause µs/request (bare / variant) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |'
  ]
  for (const [variant, routes] of Object.entries(results)) {
    for (const route of ROUTES) {
      const r = routes[route.name]
      lines.push(`| ${variant} | ${route.name} | ${r.ratio.median.toFixed(3)}x (${r.ratio.quartiles.q1.toFixed(3)}–${r.ratio.quartiles.q3.toFixed(3)};` +
        ` ${r.ratio.min.toFixed(3)}–${r.ratio.max.toFixed(3)}) | ${r.bareCpuPerReqUs.toFixed(2)} | ${r.cpuPerReqUs.toFixed(2)} |` +
        ` ${r.userRatio.toFixed(3)}, ${r.systemRatio.toFixed(3)} | ${r.bareGcPer10k.toFixed(1)} / ${r.gcPer10k.toFixed(1)} |` +
        ` ${r.bareGcPausePerReqUs.toFixed(3)} / ${r.gcPausePerReqUs.toFixed(3)} |`)
    }
  }
  return lines.join('\n')
}

if (isMain(import.meta.url)) {
  const cfg = pairedConfig()
  const started = Date.now()
  const results = await runPaired(cfg)
  console.log(`\n${pairedTable(results, cfg)}\n`)
  // The per-round figures, for a second look (BENCH_PAIR_OUT=/tmp/pairs.json).
  if (process.env.BENCH_PAIR_OUT) writeFileSync(process.env.BENCH_PAIR_OUT, JSON.stringify({ cfg, results }, null, 2))
  log(`${((Date.now() - started) / 60_000).toFixed(1)} minutes`)
}
