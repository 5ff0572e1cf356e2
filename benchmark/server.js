// A benchmark target: one Fastify app per process, parameterised by variant, driven over IPC.
//
//   node benchmark/server.js <variant> [--extra-routes N]
//
// variants: bare | server-watch | fastify-metrics | under-pressure | bare-again (the same as bare)
//           | hooks:<variant> (bare Fastify plus one mechanism of hook-server.js)
// Routes: GET / (static JSON) and GET /users/:id (parametric), plus the variant's own routes.
// It must be started with an IPC channel (fork, or spawn with 'ipc' in stdio). It sends
// { type: 'listening', port } once up, then answers { id, cmd } messages:
//   cpu        -> process.cpuUsage() plus the CPU of reaped child processes, in microseconds; the
//                 time spent in garbage collection (ms) and the number of collections so far
//   gc         -> heap figures after forced collections (needs --expose-gc)
//   endpoints  -> the number of endpoint keys in app.serverWatch.snapshot() (server-watch only)
//   loopDelayStart, loopDelayStop -> the event loop's delay (max and p99, ms) between the two, 1 ms resolution
//   close      -> app.close(), then the process exits
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import Fastify from 'fastify'
import { CLOCK_TICK_US, CONTROL, pluginOptionsFromEnv, procStatFields, VARIANTS } from './common.js'

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { 'extra-routes': { type: 'string', default: '0' } }
})
const variant = positionals[0]
// `hooks:<name>`: bare Fastify plus one mechanism of hook-server.js, for benchmark/paired.js.
const hookVariant = variant?.startsWith('hooks:') ? variant.slice('hooks:'.length) : null
const { HOOK_VARIANTS } = hookVariant === null ? {} : await import('./hook-server.js')
if (hookVariant === null ? !VARIANTS.includes(variant) && variant !== CONTROL : !(hookVariant in HOOK_VARIANTS)) {
  console.error(`unknown variant "${variant}"; expected one of ${[...VARIANTS, CONTROL].join(', ')} or hooks:<a variant of hook-server.js>`)
  process.exit(2)
}
if (typeof process.send !== 'function') {
  console.error('benchmark/server.js needs an IPC channel: start it from benchmark/run.js')
  process.exit(2)
}

// Garbage collections, to tell GC time from the rest in the CPU figures. Every variant pays for this
// observer alike (it runs once per collection, not per request).
const gcStats = { ms: 0, count: 0 }
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcStats.ms += entry.duration
    gcStats.count++
  }
}).observe({ entryTypes: ['gc'] })

// BENCH_PRELOAD=mongodb (issue 31): every variant, bare Fastify included, first loads these modules, as an app
// with a database driver has: loading code changes how fast Node's and Fastify's own request path runs.
for (const name of (process.env.BENCH_PRELOAD ?? '').split(',').filter(Boolean)) await import(name)
const app = Fastify({ logger: false })

if (hookVariant !== null) {
  await HOOK_VARIANTS[hookVariant](app)
} else if (variant === 'server-watch') {
  const { default: serverWatch } = await import('../dist/plugin.js')
  await app.register(serverWatch, pluginOptionsFromEnv())
} else if (variant === 'fastify-metrics') {
  const { default: fastifyMetrics } = await import('fastify-metrics')
  await app.register(fastifyMetrics, { endpoint: '/metrics' })
} else if (variant === 'under-pressure') {
  const { default: underPressure } = await import('@fastify/under-pressure')
  // Thresholds far out of reach so that the per-request check runs (with no threshold at all,
  // under-pressure adds no hook) but never rejects: an event-loop-utilisation threshold would
  // start answering 503 at saturation.
  await app.register(underPressure, {
    maxEventLoopDelay: 1000,
    maxHeapUsedBytes: 4 * 1024 ** 3,
    maxRssBytes: 8 * 1024 ** 3,
    exposeStatusRoute: true
  })
}

app.get('/', (request, reply) => {
  reply.send({ hello: 'world' })
})
app.get('/users/:id', (request, reply) => {
  reply.send({ id: request.params.id })
})
const extraRoutes = Number(values['extra-routes'])
for (let i = 0; i < extraRoutes; i++) {
  app.get(`/items${i}/:id`, (request, reply) => {
    reply.send({ id: request.params.id })
  })
}

function childrenCpuUs () {
  // Fields 16 and 17 of /proc/self/stat (cutime, cstime): CPU of children the process has reaped,
  // so a collector that shells out is not free in the idle figure.
  try {
    const fields = procStatFields('/proc/self/stat')
    return (Number(fields[13]) + Number(fields[14])) * CLOCK_TICK_US
  } catch {
    return 0
  }
}

function collectGarbage () {
  if (typeof globalThis.gc !== 'function') throw new Error('start the server with --expose-gc')
  // Several passes: weak callbacks and finalisers can free more on the next cycle.
  for (let i = 0; i < 4; i++) globalThis.gc()
  const { heapUsed, heapTotal, rss, external, arrayBuffers } = process.memoryUsage()
  return { heapUsed, heapTotal, rss, external, arrayBuffers }
}

/*
 * BENCH_SHAPES=1 (benchmark/v8-state.js, started with --allow-natives-syntax): a last onSend hook that sorts the
 * request, reply, raw request and socket objects it sees by V8 map (hidden class), so that a run can tell whether
 * Fastify's request path still meets one shape of each. The natives are compiled at run time, only under the flag.
 */
const shapes = process.env.BENCH_SHAPES === '1' ? { request: [], reply: [], raw: [], socket: [], seen: 0, slow: { request: 0, reply: 0, raw: 0, socket: 0 } } : null
if (shapes !== null) {
  // eslint-disable-next-line no-new-func
  const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)')
  // eslint-disable-next-line no-new-func
  const fast = new Function('a', 'return %HasFastProperties(a)')
  const note = (key, object) => {
    const list = shapes[key]
    if (!fast(object)) shapes.slow[key]++
    if (list.length < 16 && !list.some((known) => sameMap(known, object))) list.push(object)
  }
  app.addHook('onSend', (request, reply, payload, done) => {
    shapes.seen++
    note('request', request)
    note('reply', reply)
    note('raw', request.raw)
    note('socket', request.raw.socket)
    done()
  })
}

let loopDelay = null
const commands = {
  /** A line on stdout, so that a V8 trace (--trace-gc, --trace-deopt) can be cut at the measured window. */
  mark () {
    process.stdout.write(`=== mark ${Date.now()}\n`)
    return {}
  },
  /** How many distinct maps each object met at the last onSend (BENCH_SHAPES=1 only). */
  shapes () {
    if (shapes === null) throw new Error('start the server with BENCH_SHAPES=1 and --allow-natives-syntax')
    const counts = { seen: shapes.seen }
    // Distinct maps (at most 16 counted), and how many of the objects seen were in dictionary mode.
    for (const key of ['request', 'reply', 'raw', 'socket']) counts[key] = `${shapes[key].length} (${shapes.slow[key]} slow)`
    return counts
  },
  cpu () {
    const { user, system } = process.cpuUsage()
    return { user, system, children: childrenCpuUs(), wallNs: Number(process.hrtime.bigint()), gcMs: gcStats.ms, gcCount: gcStats.count }
  },
  gc () {
    return collectGarbage()
  },
  endpoints () {
    if (!app.serverWatch) return { count: null }
    const endpoints = app.serverWatch.snapshot().application.endpoints
    return { count: Object.keys(endpoints).length, keys: Object.keys(endpoints).slice(0, 10) }
  },
  // Only between these two: a 1 ms monitor wakes the loop a thousand times a second, which the idle and CPU
  // figures must not pay for. The worst delay of each second as well as the overall one: on a shared machine
  // the overall max is often one preemption, while a stall that comes with every sample shows in every second.
  loopDelayStart () {
    loopDelay?.histogram.disable()
    if (loopDelay) clearInterval(loopDelay.timer)
    const histogram = monitorEventLoopDelay({ resolution: 1 })
    histogram.enable()
    const seconds = []
    const timer = setInterval(() => {
      seconds.push(histogram.max / 1e6)
      histogram.reset()
    }, 1000)
    loopDelay = { histogram, seconds, timer }
    return {}
  },
  loopDelayStop () {
    if (loopDelay === null) throw new Error('loopDelayStart first')
    const { histogram, seconds, timer } = loopDelay
    clearInterval(timer)
    histogram.disable()
    loopDelay = null
    const sorted = [...seconds].sort((a, b) => a - b)
    return { maxMs: sorted.at(-1) ?? null, medianSecondMaxMs: sorted[sorted.length >> 1] ?? null, secondMaxesMs: seconds }
  },
  async close () {
    await app.close()
    return {}
  }
}

process.on('message', async (message) => {
  const command = commands[message.cmd]
  let reply
  try {
    if (!command) throw new Error(`unknown command ${message.cmd}`)
    reply = { id: message.id, ok: true, value: await command() }
  } catch (err) {
    reply = { id: message.id, ok: false, error: err.message }
  }
  process.send(reply, () => {
    if (message.cmd === 'close') process.exit(0)
  })
})
// The orchestrator went away: do not outlive it.
process.on('disconnect', () => process.exit(0))

await app.listen({ host: '127.0.0.1', port: 0 })
process.send({ type: 'listening', port: app.server.address().port })
