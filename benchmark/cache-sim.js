// Simulated cache and branch misses per request (issue 31): callgrind with --cache-sim=yes --branch-sim=yes,
// counted like benchmark/instructions.js (warm-up uninstrumented, chunks until stable, the idle rate subtracted).
// Like instruction counts, these are what the program does, not what the machine's load does to it: repeatable
// on a busy machine. The question they answer: is the plugin's gap above the timed-hooks floor cache misses?
//
//   node benchmark/cache-sim.js          (BENCH_INSTR_ROUNDS, BENCH_INSTR_REQUESTS as for instructions.js)
import { HOOK_SERVER_SCRIPT, isMain, log, median, SERVER_SCRIPT } from './common.js'
import { callgrindConfig, countVariant } from './instructions.js'
import { ROUTES } from './throughput.js'

/** bare Fastify, the floor of any plugin that times requests through hooks, and the plugin. */
const TARGETS = [
  { name: 'bare', variant: 'bare', script: SERVER_SCRIPT },
  { name: 'timed hooks (floor)', variant: 'timed onRequest and onSend', script: HOOK_SERVER_SCRIPT },
  { name: 'server-watch', variant: 'server-watch', script: SERVER_SCRIPT },
  // BENCH_CACHE_HOOKS='server-watch request hooks,ladder 5: an onError hook': mechanisms of hook-server.js as well;
  // BENCH_CACHE_SKIP=bare,server-watch leaves targets out by name.
  ...(process.env.BENCH_CACHE_HOOKS ?? '').split(',').filter(Boolean).map((variant) => ({ name: variant, variant, script: HOOK_SERVER_SCRIPT }))
].filter((target) => process.env.BENCH_CACHE_SKIP?.split(',').includes(target.name) !== true)
const EVENTS = ['Ir', 'Dr', 'Dw', 'I1mr', 'D1mr', 'D1mw', 'ILmr', 'DLmr', 'DLmw', 'Bc', 'Bcm', 'Bi', 'Bim']

export async function runCacheSim () {
  const cfg = callgrindConfig(2)
  // BENCH_CACHE_ROUTES=static: one route only.
  const only = (process.env.BENCH_CACHE_ROUTES ?? 'static,param').split(',')
  const routes = ROUTES.filter((route) => only.includes(route.name))
  const rows = {}
  for (let r = 0; r < cfg.rounds; r++) {
    for (const target of TARGETS) {
      for (const route of routes) {
        const { events } = await countVariant(target.variant, route, cfg, target.script, true)
        const key = `${target.name} ${route.name}`
        ;(rows[key] ??= []).push(events)
        log(`cache-sim round ${r + 1}/${cfg.rounds} ${key.padEnd(28)} ` + EVENTS.map((e) => `${e} ${Math.round(events[e] ?? 0)}`).join(' '))
      }
    }
  }
  const summary = {}
  for (const [key, list] of Object.entries(rows)) {
    summary[key] = Object.fromEntries(EVENTS.map((e) => [e, Math.round(median(list.map((events) => events[e] ?? 0)))]))
  }
  return { config: cfg, summary }
}

if (isMain(import.meta.url)) {
  console.log(JSON.stringify((await runCacheSim()).summary, null, 2))
}
