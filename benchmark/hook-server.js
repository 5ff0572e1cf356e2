// A benchmark target for benchmark/hooks.js: bare Fastify plus one mechanism a request-metrics plugin could use,
// with an empty (or minimal) body, so that callgrind can price each mechanism on its own.
//
//   node benchmark/hook-server.js <variant>      (started by hooks.js over IPC)
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
    const { RequestMetrics } = await import('../dist/requests/store.js')
    const { routeConfigReader } = await import('../dist/requests/fastify-internals.js')
    const metrics = new RequestMetrics(100, 10, 100)
    const configOf = routeConfigReader()
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
  // The plugin's request hooks alone, without its routes, sampler or event-loop monitor.
  async 'server-watch request hooks' (app) {
    const { createRequestHooks } = await import('../dist/requests/hooks.js')
    const { RequestMetrics } = await import('../dist/requests/store.js')
    const { normalizeOptions } = await import('../dist/options.js')
    const defaults = normalizeOptions({})
    const metrics = new RequestMetrics(defaults.maxRoutes, defaults.maxRecentErrors, defaults.maxErrorMessageLength)
    const hooks = createRequestHooks(metrics)
    app.addHook('onRequest', hooks.onRequest)
    app.addHook('onSend', hooks.onSend)
    app.addHook('onError', hooks.onError)
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

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const variant = process.argv[2]
  if (!(variant in HOOK_VARIANTS)) {
    console.error(`unknown variant "${variant}"; expected one of ${Object.keys(HOOK_VARIANTS).join(', ')}`)
    process.exit(2)
  }
  const app = Fastify({ logger: false })
  await HOOK_VARIANTS[variant](app)
  app.get('/', (request, reply) => { reply.send({ hello: 'world' }) })
  app.get('/users/:id', (request, reply) => { reply.send({ id: request.params.id }) })
  process.on('disconnect', () => process.exit(0))
  await app.listen({ host: '127.0.0.1', port: 0 })
  process.send({ type: 'listening', port: app.server.address().port })
}
