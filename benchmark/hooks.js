// What each request-path mechanism costs on its own: valgrind instructions per request on the static route,
// for bare Fastify plus one empty hook (or one read) at a time, and for the plugin. This is the evidence behind
// the shape of lib/requests/hooks.ts (see "Why the request path looks the way it does" in README.md).
//
//   npm run build && node benchmark/hooks.js          (about 1 minute per variant and round)
//   BENCH_HOOK_ROUNDS=3 node benchmark/hooks.js       (more rounds: medians)
//   BENCH_HOOK_VARIANTS='root onSend' node benchmark/hooks.js   (some variants only, and bare)
//   BENCH_INSTR_REQUESTS=20000 node benchmark/hooks.js   (more requests counted per variant; 4,000 by default)
import { callgrindConfig, countVariant } from './instructions.js'
import { envNumber, HOOK_SERVER_SCRIPT, log, median, selectedVariants } from './common.js'
import { HOOK_VARIANTS } from './hook-server.js'
import { ROUTES } from './throughput.js'

// instructions.js's knobs, with a shorter idle window (the plugin samples hourly under callgrind).
const cfg = { ...callgrindConfig(1), idleS: envNumber('BENCH_INSTR_IDLE', 3) }
const rounds = envNumber('BENCH_HOOK_ROUNDS', 1)
const variants = selectedVariants(Object.keys(HOOK_VARIANTS), 'BENCH_HOOK_VARIANTS')
const perRound = []
for (let round = 0; round < rounds; round++) {
  const figures = {}
  for (const variant of variants) {
    figures[variant] = (await countVariant(variant, ROUTES[0], cfg, HOOK_SERVER_SCRIPT)).perRequest
    log(`round ${round + 1}/${rounds} ${variant.padEnd(26)} ${Math.round(figures[variant])} instructions per request`)
  }
  perRound.push(figures)
}
console.log('\n| mechanism (static route) | instructions per request | vs bare Fastify |\n| --- | --- | --- |')
for (const variant of variants) {
  const value = median(perRound.map((f) => f[variant]))
  const ratio = median(perRound.map((f) => f[variant] / f.bare))
  console.log(`| ${variant} | ${Math.round(value)} | ${variant === 'bare' ? 'reference' : `${ratio >= 1 ? '+' : '−'}${Math.abs((ratio - 1) * 100).toFixed(1)}%`} |`)
}
