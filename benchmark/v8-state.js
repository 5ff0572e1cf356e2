// What V8 does while a server answers, floor against plugin (issue 31's second and third hypotheses): garbage
// collections and their pauses per 100,000 requests (--trace-gc), deoptimisations after the warm-up
// (--trace-deopt), and how many hidden classes the request, reply, raw request and socket objects come in at the
// last onSend (%HaveSameMap, under --allow-natives-syntax: here only, never in the package).
//
//   npm run build && node benchmark/v8-state.js
//   BENCH_V8_TARGETS='bare,hooks:timed onRequest and onSend,server-watch' BENCH_V8_REQUESTS=200000 node benchmark/v8-state.js
//
// One server at a time, pinned to its core, at a fixed rate (BENCH_V8_RATE, 5,000 req/s) from the other core.
import { envNumber, isMain, log, runLoad, SERVER_CPU, SERVER_SCRIPT, spawnListening } from './common.js'

const ROUTES = [{ name: 'static', path: '/' }, { name: 'param', path: '/users/1234' }]

export function v8Config () {
  return {
    targets: (process.env.BENCH_V8_TARGETS ?? 'bare,hooks:timed onRequest and onSend,hooks:server-watch request hooks,server-watch')
      .split(',').map((t) => t.trim()).filter(Boolean),
    requests: envNumber('BENCH_V8_REQUESTS', 100_000),
    warmup: envNumber('BENCH_V8_WARMUP', 30_000),
    rate: envNumber('BENCH_V8_RATE', 5_000),
    rounds: envNumber('BENCH_V8_ROUNDS', 2)
  }
}

/** A server.js whose stdout (where V8 writes its traces) is kept, with the same IPC commands as common.js's. */
async function startTraced (variant) {
  const { child, port } = await spawnListening(SERVER_SCRIPT, [variant], {
    nodeArgs: ['--trace-gc', '--trace-deopt', '--allow-natives-syntax'],
    stdout: 'pipe',
    env: { ...process.env, BENCH_SHAPES: '1' },
    cpu: SERVER_CPU
  })
  let out = ''
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk) => { out += chunk })
  let nextId = 0
  function call (cmd) {
    const id = ++nextId
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${variant} ${cmd}: no reply in 30 s`)), 30_000)
      child.on('message', function onReply (m) {
        if (m.id !== id) return
        clearTimeout(timer)
        child.off('message', onReply)
        if (m.ok) resolve(m.value)
        else reject(new Error(`${variant} ${cmd}: ${m.error}`))
      })
      child.send({ id, cmd })
    })
  }
  return {
    url: `http://127.0.0.1:${port}`,
    call,
    output: () => out,
    async stop () {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
      child.send({ id: -1, cmd: 'close' })
      await exited
      clearTimeout(timer)
    }
  }
}

/** The trace lines between the two marks: collections (kind, pause), deoptimisations. */
function readWindow (text, requests) {
  const start = text.indexOf('=== mark')
  const end = text.indexOf('=== mark', start + 1)
  const lines = text.slice(start, end === -1 ? undefined : end).split('\n')
  const gc = { scavenges: 0, scavengeMs: 0, markCompacts: 0, markCompactMs: 0, other: 0 }
  let deopts = 0
  const deoptReasons = new Map()
  for (const line of lines) {
    // [pid:0x…]   1234 ms: Scavenge 10.1 (12.0) -> 9.0 (12.0) MB, 0.52 / 0.00 ms  (average mu = …) allocation failure;
    const collection = /: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact)[^,]*, ([\d.]+) \/ ([\d.]+) ms/.exec(line)
    if (collection) {
      const pauseMs = Number(collection[2])
      if (collection[1] === 'Scavenge') {
        gc.scavenges++
        gc.scavengeMs += pauseMs
      } else if (collection[1].startsWith('Mark')) {
        gc.markCompacts++
        gc.markCompactMs += pauseMs
      } else {
        gc.other++
      }
      continue
    }
    const deopt = /\[bailout \(kind: ([^,]+), reason: ([^)]+)\): begin\. deoptimizing .*?<JSFunction ([^ >]*)/.exec(line)
    if (deopt) {
      deopts++
      const key = `${deopt[3] || '(anonymous)'}: ${deopt[2]}`
      deoptReasons.set(key, (deoptReasons.get(key) ?? 0) + 1)
    }
  }
  const per100k = 100_000 / requests
  return {
    scavenges: gc.scavenges * per100k,
    scavengePauseMs: gc.scavengeMs * per100k,
    markCompacts: gc.markCompacts * per100k,
    markCompactPauseMs: gc.markCompactMs * per100k,
    deopts,
    deoptReasons: [...deoptReasons].sort((a, b) => b[1] - a[1]).slice(0, 8)
  }
}

async function measureTarget (target, route, cfg) {
  const server = await startTraced(target)
  try {
    const load = { path: route.path, connections: 25, overallRate: cfg.rate }
    await runLoad({ kind: 'fixed', url: server.url, ...load, amount: cfg.warmup })
    await server.call('mark')
    const before = await server.call('cpu')
    const result = await runLoad({ kind: 'fixed', url: server.url, ...load, amount: cfg.requests })
    const after = await server.call('cpu')
    await server.call('mark')
    const shapes = await server.call('shapes')
    // Let the last trace lines reach the pipe before it is read.
    await new Promise((resolve) => setTimeout(resolve, 300))
    return {
      requests: result.requests,
      cpuPerReqUs: (after.user + after.system - before.user - before.system) / result.requests,
      ...readWindow(server.output(), result.requests),
      shapes
    }
  } finally {
    await server.stop()
  }
}

export async function runV8State (cfg = v8Config()) {
  const results = []
  for (let round = 0; round < cfg.rounds; round++) {
    for (const route of ROUTES) {
      for (const target of cfg.targets) {
        const figures = await measureTarget(target, route, cfg)
        results.push({ round, route: route.name, target, ...figures })
        log(`${target} ${route.name} round ${round + 1}: ${figures.scavenges.toFixed(1)} scavenges (${figures.scavengePauseMs.toFixed(1)} ms)` +
          ` and ${figures.markCompacts.toFixed(1)} mark-compacts (${figures.markCompactPauseMs.toFixed(1)} ms) per 100k requests,` +
          ` ${figures.deopts} deopts after warm-up, maps request/reply/raw/socket ${figures.shapes.request}/${figures.shapes.reply}/` +
          `${figures.shapes.raw}/${figures.shapes.socket}, ${figures.cpuPerReqUs.toFixed(1)} µs CPU/request (traced)`)
        for (const [reason, count] of figures.deoptReasons) log(`    deopt ${count}x ${reason}`)
      }
    }
  }
  return results
}

if (isMain(import.meta.url)) {
  const results = await runV8State()
  console.log(JSON.stringify(results.map(({ deoptReasons, ...rest }) => rest)))
}
