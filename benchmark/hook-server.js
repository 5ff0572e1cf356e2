// A benchmark target for benchmark/hooks.js: bare Fastify plus one mechanism a request-metrics plugin could use,
// with an empty (or minimal) body, so that callgrind can price each mechanism on its own.
//
//   node benchmark/hook-server.js <variant>      (started by hooks.js over IPC)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { performance } from 'node:perf_hooks'
import Fastify from 'fastify'
import { pluginOptionsFromEnv } from './common.js'

// Written by the hooks so that their bodies are not optimised away.
export let sink = 0
/** Each variant adds one mechanism to `app`. */
export const HOOK_VARIANTS = {
  bare () {},
  'root onRequest' (app) { app.addHook('onRequest', (request, reply, done) => { sink++; done() }) },
  'route onRequest' (app) {
    app.addHook('onRoute', (route) => { route.onRequest = [(request, reply, done) => { sink++; done() }] })
  },
  'root onSend' (app) { app.addHook('onSend', (request, reply, payload, done) => { sink++; done() }) },
  'root onResponse' (app) { app.addHook('onResponse', (request, reply, done) => { sink++; done() }) },
  'root onRequestAbort' (app) { app.addHook('onRequestAbort', (request, done) => { sink++; done() }) },
  'request.routeOptions read' (app) {
    app.addHook('onRequest', (request, reply, done) => { sink += request.routeOptions.url.length; done() })
  },
  'two performance.now()' (app) {
    app.addHook('onRequest', (request, reply, done) => { sink += performance.now() - performance.now(); done() })
  },
  'two process.hrtime()' (app) {
    app.addHook('onRequest', (request, reply, done) => {
      const a = process.hrtime()
      const b = process.hrtime()
      sink += (a[0] - b[0]) * 1e3 + (a[1] - b[1]) / 1e6
      done()
    })
  },
  'three request decorators' (app) {
    app.decorateRequest('a', null)
    app.decorateRequest('b', 0)
    app.decorateRequest('c', null)
  },
  'onRequest and onSend' (app) {
    app.addHook('onRequest', (request, reply, done) => { sink++; done() })
    app.addHook('onSend', (request, reply, payload, done) => { sink++; done() })
  },
  // The least a plugin that times requests through Fastify's hooks can do: a start time on the request in
  // onRequest, a duration in onSend. Everything fastify-server-watch records comes on top of this.
  'timed onRequest and onSend' (app) {
    const kStart = Symbol('start')
    app.addHook('onRequest', (request, reply, done) => { request[kStart] = performance.now(); done() })
    app.addHook('onSend', (request, reply, payload, done) => { done(); sink += performance.now() - request[kStart] })
  },
  'timed by process.hrtime.bigint()' (app) {
    const kStart = Symbol('start')
    app.addHook('onRequest', (request, reply, done) => { request[kStart] = process.hrtime.bigint(); done() })
    app.addHook('onSend', (request, reply, payload, done) => { done(); sink += Number(process.hrtime.bigint() - request[kStart]) })
  },
  // Issue 31, "A young process, and cold code": the floor plus the same arithmetic after each response, as
  // straight-line code of about 4 kB of machine code (the plugin's hooks run about that much more than the floor), or
  // as a loop of a few lines that executes about a quarter more instructions. What separates them is how much code a
  // request runs.
  'timed plus 4 kB of straight code' (app) { return timedWith(app, straightWork(COLD_STEPS)) },
  'timed plus the same work in a loop' (app) { return timedWith(app, loopWork(COLD_STEPS)) },
  // The same for data: after each response, a chain of dependent loads through one cache line per hop, the same lines
  // for every request (as the plugin's hooks reach the same route, store and histogram objects each time), or the
  // same number of loads within one line.
  'timed plus 160 data lines' (app) { return timedWith(app, chase(CHASE_HOPS)) },
  'timed plus the same loads from one line' (app) { return timedWith(app, chase(1)) },
  // Bisecting the plugin's hooks (issue 16): the timed pair plus one of the things the plugin's hooks do.
  'timed with the reply on its socket' (app) {
    const kStart = Symbol('start')
    const kReply = Symbol('reply')
    function onClose () { this[kReply] = null }
    app.addHook('onRequest', (request, reply, done) => {
      request[kStart] = performance.now()
      const socket = request.raw.socket
      if (socket[kReply] === undefined) socket.on('close', onClose)
      socket[kReply] = reply
      done()
    })
    app.addHook('onSend', (request, reply, payload, done) => {
      done()
      sink += performance.now() - request[kStart]
      const socket = request.raw.socket
      if (socket[kReply] === reply) socket[kReply] = null
    })
  },
  async 'timed with the route noted in onRequest' (app) {
    const { routeConfigReader } = await import('../dist/requests/fastify-internals.js')
    const configOf = routeConfigReader()
    const kStart = Symbol('start')
    const kRoute = Symbol('route')
    const kCached = Symbol('cached')
    app.addHook('onRequest', (request, reply, done) => {
      const config = configOf(request)
      request[kRoute] = (config[kCached] ??= { route: config.url })
      request[kStart] = performance.now()
      done()
    })
    app.addHook('onSend', (request, reply, payload, done) => {
      done()
      sink += performance.now() - request[kStart] + (request[kRoute] === undefined ? 0 : 1)
    })
  },
  async 'timed and recorded' (app) {
    const { metrics, configOf } = await requestStore()
    const kStart = Symbol('start')
    const kEndpoint = Symbol('endpoint')
    app.addHook('onRequest', (request, reply, done) => { request[kStart] = performance.now(); done() })
    app.addHook('onSend', (request, reply, payload, done) => {
      done()
      const config = configOf(request)
      const endpoint = config[kEndpoint] ??= metrics.endpointFor(config.method, config.url)
      metrics.record(endpoint, reply.statusCode, performance.now() - request[kStart])
    })
  },
  // Issue 31's ladder: from the floor to the plugin's request hooks, one of their parts added at each step, each
  // step keeping the ones before it (the hooks of `ladder(...)` below).
  'ladder 1: the route noted' (app) { return ladder(app, 1) },
  'ladder 2: the socket watched' (app) { return ladder(app, 2) },
  'ladder 3: counted and recorded' (app) { return ladder(app, 3) },
  'ladder 4: settled and the error read' (app) { return ladder(app, 4) },
  'ladder 5: an onError hook' (app) { return ladder(app, 5) },
  // The plugin's request hooks alone, without its routes, sampler or event-loop monitor.
  'server-watch request hooks' (app) { return pluginRequestHooks(app) },
  // Issue 31: the same built module copied to another file, as it is and with the `try`/`catch` around onSend's
  // `done()` taken out (hooksCopy, below): whether that structure is what the hooks cost above ladder 5.
  'server-watch request hooks copied' (app) { return pluginRequestHooks(app, undefined, hooksCopy('copied', (code) => code)) },
  'server-watch request hooks copied without the try' (app) { return pluginRequestHooks(app, undefined, hooksCopy('no-try', withoutTry)) },
  // The same, each response recorded through issue 31's ring (recordThroughRing, below).
  'server-watch request hooks with a ring' (app) { return pluginRequestHooks(app, recordThroughRing) },
  // Issue 31: the same hooks with more code loaded first (benchmark/README.md, "Code loaded, not code run"), and the
  // plugin with parts left out. Run with BENCH_PRELOAD=mongodb to load the driver into every variant, bare included.
  'ladder 5 with the options module loaded': ladderAfter(() => import('../dist/options.js')),
  'ladder 5 with TypeBox loaded': ladderAfter(() => import('@sinclair/typebox')),
  'ladder 5 with the schemas loaded': ladderAfter(() => import('../dist/schemas/health.js')),
  'ladder 5 with the MongoDB driver loaded': ladderAfter(() => import('mongodb')),
  'ladder 5 with TypeBox CommonJS loaded': ladderAfter(() => createRequire(import.meta.url)('@sinclair/typebox')),
  'ladder 5 with the plugin loaded': ladderAfter(() => import('../dist/plugin.js')),
  async 'the plugin loaded and not registered' () { await import('../dist/plugin.js') },
  'server-watch without its routes': serverWatchWith({ healthPath: false, dashboardPath: false, metricsPath: false }),
  // The sample step all but off (one sample at start, then hourly); the event-loop timer still runs (issue 31).
  'server-watch sampling hourly': serverWatchWith({ sampleIntervalMs: 3_600_000 }),
  'server-watch with only its health route': serverWatchWith({ dashboardPath: false, metricsPath: false }),
  'server-watch with only its metrics route': serverWatchWith({ dashboardPath: false, healthPath: false }),
  'server-watch with only its dashboard': serverWatchWith({ metricsPath: false, healthPath: false }),
  // A full collection once the app has started (BENCH_NODE_ARGS=--expose-gc), when no tick object is alive: the
  // map that process.nextTick's literal builds its objects through can die with them (issue 31).
  async 'bare after a full collection' () {
    await new Promise((resolve) => setImmediate(resolve))
    globalThis.gc()
  },
  // What the plugin does on import (lib/requests/next-tick-shape.ts), alone: one tick object kept, so that a full
  // collection with none alive cannot put every later process.nextTick on V8's runtime path.
  async 'bare keeping a tick object' () {
    const { keepNextTickShape } = await import('../dist/requests/next-tick-shape.js')
    keepNextTickShape()
  },
  // What the first version of that did besides (issue 31): `executionAsyncResource()` sets Node's "execution async
  // resource used" flag for the rest of the process.
  async 'bare after executionAsyncResource()' () {
    const { executionAsyncResource } = await import('node:async_hooks')
    executionAsyncResource()
  },
  async 'server-watch' (app) {
    const { default: serverWatch } = await import('../dist/plugin.js')
    await app.register(serverWatch, pluginOptionsFromEnv())
  },
  // Load shedding on and not firing (a threshold no loop reaches): what a shedding rule costs a request.
  async 'server-watch shedding' (app) {
    const { default: serverWatch } = await import('../dist/plugin.js')
    await app.register(serverWatch, {
      ...pluginOptionsFromEnv(),
      alerts: { rules: [{ name: 'never', metric: 'eventLoop.delayMs.p99', above: 1e9, shed: true }] }
    })
  },
  // The floor of any AsyncLocalStorage-based attribution (issue 29): a root onRequest hook that runs the rest of the
  // chain in a store, with nothing else.
  async 'AsyncLocalStorage run in onRequest' (app) {
    const { AsyncLocalStorage } = await import('node:async_hooks')
    const storage = new AsyncLocalStorage()
    app.addHook('onRequest', (request, reply, done) => { storage.run(request, done) })
  },
  // With `breakdown: true` (issue 29): an AsyncLocalStorage context per request (on a static route, no call to
  // attribute); and `breakdown: false`, which must count what `server-watch` counts.
  async 'server-watch breakdown' (app) {
    const { default: serverWatch } = await import('../dist/plugin.js')
    await app.register(serverWatch, { ...pluginOptionsFromEnv(), breakdown: true })
  },
  async 'server-watch breakdown off' (app) {
    const { default: serverWatch } = await import('../dist/plugin.js')
    await app.register(serverWatch, { ...pluginOptionsFromEnv(), breakdown: false })
  },
  // The plugin exporting to the OpenTelemetry SDK: each request's duration also goes into an SDK histogram.
  async 'server-watch openTelemetry' (app) {
    const { default: serverWatch } = await import('../dist/plugin.js')
    const { InMemoryMetricExporter, AggregationTemporality, MeterProvider, PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics')
    const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
    const meterProvider = new MeterProvider({ readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 })] })
    await app.register(serverWatch, { ...pluginOptionsFromEnv(), openTelemetry: { meterProvider } })
  }
}

/** A RequestMetrics of the built plugin and a reader of each request's route config, as the hooks use them. */
async function requestStore () {
  const { RequestMetrics } = await import('../dist/requests/store.js')
  const { routeConfigReader } = await import('../dist/requests/fastify-internals.js')
  return { metrics: new RequestMetrics(100, 10, 100), configOf: routeConfigReader() }
}

/** The plugin's request hooks on `app`, over a store with the plugin's defaults, which `adapt` may change first. */
async function pluginRequestHooks (app, adapt = () => {}, hooksModule = '../dist/requests/hooks.js') {
  const { createRequestHooks } = await import(hooksModule)
  const { RequestMetrics } = await import('../dist/requests/store.js')
  const { normalizeOptions } = await import('../dist/options.js')
  const defaults = normalizeOptions({})
  const metrics = new RequestMetrics(defaults.maxRoutes, defaults.maxRecentErrors, defaults.maxErrorMessageLength)
  adapt(metrics)
  const hooks = createRequestHooks(metrics)
  app.addHook('onRequest', hooks.onRequest)
  app.addHook('onSend', hooks.onSend)
  app.addHook('onError', hooks.onError)
}

/**
 * Issue 31's ring, on the request path only: each response appended to a ring (its endpoint's slot, status and
 * duration, sequential writes) and folded into the store every 1,024, so that the histograms' scattered writes leave
 * the request path. A store read between folds would have to fold first; nothing reads it here. The slot is kept on
 * the endpoint (a property the plugin's Endpoint does not have), for this measurement only.
 */
function recordThroughRing (metrics) {
  const fold = metrics.record.bind(metrics)
  const ring = new Float64Array(1024 * 3)
  const endpoints = []
  let at = 0
  metrics.record = (endpoint, statusCode, durationMs) => {
    let slot = endpoint.slot
    if (slot === undefined) {
      slot = endpoint.slot = endpoints.length
      endpoints.push(endpoint)
    }
    ring[at] = slot
    ring[at + 1] = statusCode
    ring[at + 2] = durationMs
    at += 3
    if (at === ring.length) {
      for (let i = 0; i < at; i += 3) fold(endpoints[ring[i]], ring[i + 1], ring[i + 2])
      at = 0
    }
  }
}

/**
 * Steps of the arithmetic after each response: 350 of them compile to about 4 kB of machine code run straight through
 * (`node --print-opt-code`: 11.7 bytes a step), about what the plugin's hooks run beyond the floor's.
 */
const COLD_STEPS = Number(process.env.BENCH_COLD_STEPS ?? 350)
/** One integer step, from the `i`-th pair of constants: an xor and an add, two instructions. */
const step = (i) => `s = ((s ^ ${(i * 40503) & 0xffff}) + ${i + 1}) | 0`

/** `steps` steps in a row and no loop: each runs once, from its own bytes of code. */
function straightWork (steps) {
  const body = ['let s = x | 0']
  for (let i = 0; i < steps; i++) body.push(step(i))
  return new Function('x', [...body, 'return s'].join('\n')) // eslint-disable-line no-new-func -- generated once, at start-up
}

/** The same number of steps as a loop whose body is 8 of them: about a quarter more instructions, a 40th of the code. */
function loopWork (steps) {
  const body = []
  for (let i = 0; i < 8; i++) body.push('  ' + step(i))
  return new Function('x', ['let s = x | 0', `for (let n = 0; n < ${Math.ceil(steps / 8)}; n++) {`, ...body, '}', 'return s'].join('\n')) // eslint-disable-line no-new-func -- as above
}

/** Loads of `chase`: 160, four times the data lines the hooks fetch beyond the floor's when a neighbour evicts them. */
const CHASE_HOPS = Number(process.env.BENCH_CHASE_HOPS ?? 160)

/**
 * A walk of CHASE_HOPS dependent loads (each index read from the last) over `lines` cache lines of an Int32Array, in
 * a shuffled cycle with one index a line (16 a line, 64 bytes); with one line, a cycle of 8 indices within it.
 */
function chase (lines) {
  const next = new Int32Array(Math.max(lines, 1) * 16)
  if (lines === 1) {
    for (let i = 0; i < 8; i++) next[i] = (i + 1) % 8
  } else {
    const order = Array.from({ length: lines }, (_, i) => i)
    for (let i = lines - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1))
      ;[order[i], order[j]] = [order[j], order[i]]
    }
    for (let i = 0; i < lines; i++) next[order[i] * 16] = order[(i + 1) % lines] * 16
  }
  return (x) => {
    let at = 0
    for (let hop = 0; hop < CHASE_HOPS; hop++) at = next[at]
    return at + (x | 0)
  }
}

/** The floor, with `work` run after each response is timed. */
function timedWith (app, work) {
  const kStart = Symbol('start')
  app.addHook('onRequest', (request, reply, done) => { request[kStart] = performance.now(); done() })
  app.addHook('onSend', (request, reply, payload, done) => {
    done()
    const durationMs = performance.now() - request[kStart]
    sink += work(durationMs * 1000)
  })
}

/**
 * The built `dist/requests/hooks.js`, changed by `edit` and written to a temporary file whose imports point back into
 * the build: the same code from another file, or the same with one change. Returns the copy's URL.
 */
function hooksCopy (name, edit) {
  const dist = new URL('../dist/', import.meta.url).href
  const code = edit(readFileSync(new URL('requests/hooks.js', dist), 'utf8'))
    .replaceAll("from './", `from '${dist}requests/`).replaceAll("from '../", `from '${dist}`)
  const dir = mkdtempSync(join(tmpdir(), 'sw-hooks-'))
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, `hooks-${name}.js`)
  writeFileSync(file, code)
  return pathToFileURL(file).href
}

/** onSend's `try { done() } catch { … }` as a plain `done()`: a response whose write throws is then left unsettled. */
function withoutTry (code) {
  const changed = code.replace(/try \{\s*done\(\);\s*\}\s*catch \(error\) \{[^}]*\}/, 'done();')
  if (changed === code) throw new Error('hooksCopy: the try around done() was not found in dist/requests/hooks.js')
  return changed
}

/** Ladder 5 once `load` has loaded more code into the process (and run nothing of it per request). */
function ladderAfter (load) {
  return async (app) => {
    await load()
    return ladder(app, 5)
  }
}

/** The whole plugin with these options on top of the environment's. */
function serverWatchWith (options) {
  return async (app) => {
    const { default: serverWatch } = await import('../dist/plugin.js')
    await app.register(serverWatch, { ...pluginOptionsFromEnv(), ...options })
  }
}

/**
 * The floor (`timed onRequest and onSend`) plus the first `steps` parts of what the plugin's hooks do on an answered
 * request (lib/requests/hooks.ts), written out flat so that each part can be left out: 1, the route's endpoint found
 * on its config and kept on the request; 2, the connection's close watched and the reply noted on the socket; 3, the
 * in-flight count and the recording into a RequestMetrics; 4, the request marked settled, the error slot read, the
 * response's end checked and the slowest-requests threshold compared; 5, an onError hook registered.
 */
async function ladder (app, steps) {
  const { metrics, configOf } = await requestStore()
  const kStart = Symbol('start')
  const kEndpoint = Symbol('endpoint')
  const kCached = Symbol('cached')
  const kReply = Symbol('reply')
  const kError = Symbol('error')
  function onClose () { this[kReply] = null }
  app.addHook('onRequest', (request, reply, done) => {
    if (steps >= 1) {
      const config = configOf(request)
      request[kEndpoint] = (config[kCached] ??= metrics.endpointFor(config.method, config.url))
    }
    if (steps >= 2) {
      const socket = request.raw.socket
      if (socket.destroyed !== true) {
        request[kStart] = performance.now()
        if (steps >= 3) metrics.started()
        if (socket[kReply] === undefined) socket.on('close', onClose)
        socket[kReply] = reply
      }
    } else {
      request[kStart] = performance.now()
    }
    done()
  })
  app.addHook('onSend', (request, reply, payload, done) => {
    const start = request[kStart]
    if (steps >= 4 && start < 0) return done()
    done()
    if (steps >= 4 && !reply.raw.writableEnded) return
    const durationMs = performance.now() - start
    if (steps >= 4) request[kStart] = -1
    if (steps >= 2) {
      const socket = request.raw.socket
      if (socket[kReply] === reply) socket[kReply] = null
    }
    if (steps >= 3) {
      metrics.left()
      metrics.record(request[kEndpoint], reply.statusCode, durationMs)
    } else {
      sink += durationMs + (steps >= 1 && request[kEndpoint] === undefined ? 1 : 0)
    }
    if (steps >= 4) {
      if (durationMs > metrics.slowest.threshold) sink++
      if (request[kError] !== undefined) sink++
    }
  })
  if (steps >= 5) app.addHook('onError', (request, reply, error, done) => { request[kError] = error; done() })
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const variant = process.argv[2]
  if (!(variant in HOOK_VARIANTS)) {
    console.error(`unknown variant "${variant}"; expected one of ${Object.keys(HOOK_VARIANTS).join(', ')}`)
    process.exit(2)
  }
  // BENCH_PRELOAD=mongodb (issue 31): every variant, bare Fastify included, first loads these modules, as an app
  // with a database driver has: loading code changes how fast Node's and Fastify's own request path runs.
  for (const name of (process.env.BENCH_PRELOAD ?? '').split(',').filter(Boolean)) await import(name)
  const app = Fastify({ logger: false })
  await HOOK_VARIANTS[variant](app)
  app.get('/', (request, reply) => { reply.send({ hello: 'world' }) })
  app.get('/users/:id', (request, reply) => { reply.send({ id: request.params.id }) })
  process.on('disconnect', () => process.exit(0))
  await app.listen({ host: '127.0.0.1', port: 0 })
  process.send({ type: 'listening', port: app.server.address().port })
}
