// Bare Fastify's instructions per request under callgrind, with modules loaded first (issue 31, "Code loaded, not
// code run" in README.md): which loaded code tips V8 into the state where `process.nextTick` takes the runtime's slow
// path. Each argument is one BENCH_PRELOAD list, paths relative to benchmark/hook-server.js.
//
//   npm run build && node benchmark/preload.js mongodb mongodb,../dist/plugin.js
import { callgrindConfig, countVariant } from './instructions.js'
import { envNumber, HOOK_SERVER_SCRIPT, isMain, log } from './common.js'

// instructions.js's knobs, with a shorter idle window: bare Fastify has no sampling loop to average over.
const CFG = { ...callgrindConfig(1), idleS: envNumber('BENCH_INSTR_IDLE', 3) }

if (isMain(import.meta.url)) {
  const lists = process.argv.slice(2)
  if (lists.length === 0) {
    console.error('usage: node benchmark/preload.js <module,module,...> [...]')
    process.exit(2)
  }
  for (const preload of lists) {
    // Read by hook-server.js in the server process, which countVariant starts with this process's environment.
    process.env.BENCH_PRELOAD = preload
    const { perRequest } = await countVariant('bare', { name: 'static', path: '/' }, CFG, HOOK_SERVER_SCRIPT)
    log(`${Math.round(perRequest)} instructions per request, bare Fastify with ${preload} loaded`)
  }
}
