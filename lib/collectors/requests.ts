import { performance } from 'node:perf_hooks'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { Histogram, bucketIndex } from '../histogram.js'
import { errorCode, errorText } from '../error-text.js'
import { round } from '../format.js'
import type { ApplicationSnapshot, EndpointSnapshot, RecentError } from '../schemas/health.js'
import { SlowestRequests } from './slowest.js'

export const NOT_FOUND_KEY = '(not found)'
export const OVERFLOW_KEY = '(other routes)'
/** The `statusCodes` key of a status code that is not an integer from 100 to 999. */
export const OTHER_STATUS_KEY = 'other'

/**
 * A status code's slot in `RequestMetrics.statusCodes`: itself from 100 to 999, else 0. Codes from 600 up are no
 * HTTP status a client understands, and codes outside 100 to 599 count in the 5xx class and as errors.
 */
export const statusSlot = (statusCode: number): number =>
  statusCode >= 100 && statusCode < 1000 && (statusCode | 0) === statusCode ? statusCode : 0

/** requestsPerSecond is the rate over this recent window. */
export const RATE_WINDOW_MS = 10_000

export class Endpoint {
  count = 0
  errorCount = 0
  /**
   * Durations by status class (index 1 to 5 for 1xx to 5xx), each created on the first response of its class,
   * so that Prometheus gets a duration histogram per method, route and status class.
   */
  readonly byClass: Array<Histogram | undefined> = [undefined, undefined, undefined, undefined, undefined, undefined]
  constructor (readonly method: string, readonly route: string, readonly key = `${method} ${route}`) {}

  record (index: number, statusClass: number, durationMs: number): void {
    this.count++
    if (statusClass === 5) this.errorCount++
    ;(this.byClass[statusClass] ??= new Histogram()).recordAt(index, durationMs)
  }

  /** Every class together: what the snapshot's percentiles read. */
  combined (): Histogram {
    const all = new Histogram()
    for (const histogram of this.byClass) if (histogram !== undefined) all.add(histogram)
    return all
  }
}

interface StoredError {
  time: number
  method: string
  route: string
  path: string
  statusCode: number
  message: string
  code: string | undefined
}

export class RequestMetrics {
  total = 0
  errorCount = 0
  inFlight = 0
  /** Requests refused by load shedding (lib/alerts/shedding.ts), counted nowhere else. */
  shed = 0
  aborted = 0
  timedOut = 0
  /**
   * Indexed by status code, 100 to 999 (what Node lets a response write): one increment per response, no key
   * built. Slot 0 counts any other value (`OTHER_STATUS_KEY`), so that every counted response has a code.
   */
  readonly statusCodes = new Uint32Array(1000)
  readonly histogram = new Histogram()
  readonly endpoints = new Map<string, Endpoint>()
  readonly notFound = new Endpoint('*', NOT_FOUND_KEY, NOT_FOUND_KEY)
  readonly overflow = new Endpoint('*', OVERFLOW_KEY, OVERFLOW_KEY)
  readonly slowest = new SlowestRequests()
  private readonly recentErrors: Array<StoredError | undefined>
  private nextError = 0
  private readonly rateTimes: Float64Array
  private readonly rateTotals: Float64Array
  private rateHead = 0
  private rateFilled = 0

  constructor (
    private readonly maxRoutes: number,
    private readonly maxRecentErrors: number,
    private readonly maxMessageLength: number,
    sampleIntervalMs: number
  ) {
    this.recentErrors = new Array(maxRecentErrors).fill(undefined)
    const slots = Math.max(2, Math.ceil(RATE_WINDOW_MS / sampleIntervalMs) + 1)
    this.rateTimes = new Float64Array(slots)
    this.rateTotals = new Float64Array(slots)
  }

  /** The shared stats object of `METHOD pattern`: a new one until `maxRoutes` keys exist, then the overflow. */
  endpointFor (method: string, url: string): Endpoint {
    const key = `${method} ${url}`
    let endpoint = this.endpoints.get(key)
    if (endpoint === undefined) {
      if (this.endpoints.size >= this.maxRoutes) return this.overflow
      endpoint = new Endpoint(method, url, key)
      this.endpoints.set(key, endpoint)
    }
    return endpoint
  }

  /** Every endpoint with its shared buckets, in the order they were first used. */
  allEndpoints (): Endpoint[] {
    return [...this.endpoints.values(), this.notFound, this.overflow]
  }

  record (endpoint: Endpoint, statusCode: number, durationMs: number): void {
    const index = bucketIndex(durationMs)
    this.total++
    this.histogram.recordAt(index, durationMs)
    const slot = statusSlot(statusCode)
    const statusClass = slot >= 100 && slot < 600 ? (slot / 100) | 0 : 5
    endpoint.record(index, statusClass, durationMs)
    this.statusCodes[slot]!++
    if (statusClass === 5) this.errorCount++
  }

  /** Anything can be thrown (null, a Proxy, a BigInt message): only strings are stored, so snapshots always serialise. */
  recordError (request: FastifyRequest, route: string, statusCode: number, error: unknown): void {
    if (this.maxRecentErrors === 0) return
    const url = request.url
    const query = url.indexOf('?')
    this.recentErrors[this.nextError] = {
      time: Date.now(),
      method: request.method,
      route,
      path: (query === -1 ? url : url.slice(0, query)).slice(0, 512),
      statusCode,
      message: errorText(error, this.maxMessageLength),
      code: errorCode(error)
    }
    this.nextError = (this.nextError + 1) % this.maxRecentErrors
  }

  /** Called on the sampling loop: remembers the total so that requestsPerSecond covers a recent window. */
  tick (now: number): void {
    this.rateTimes[this.rateHead] = now
    this.rateTotals[this.rateHead] = this.total
    this.rateHead = (this.rateHead + 1) % this.rateTimes.length
    if (this.rateFilled < this.rateTimes.length) this.rateFilled++
    this.slowest.tick(now, this.histogram.percentile(0.99))
  }

  requestsPerSecond (now: number): number {
    if (this.rateFilled === 0) return 0
    const oldest = this.rateFilled < this.rateTimes.length ? 0 : this.rateHead
    const seconds = (now - this.rateTimes[oldest]!) / 1000
    return seconds > 0 ? round((this.total - this.rateTotals[oldest]!) / seconds, 2) : 0
  }

  snapshot (now: number): Omit<ApplicationSnapshot, 'recent'> {
    const statusCodes: Record<string, number> = {}
    for (let code = 100; code < this.statusCodes.length; code++) {
      if (this.statusCodes[code]! > 0) statusCodes[code] = this.statusCodes[code]!
    }
    if (this.statusCodes[0]! > 0) statusCodes[OTHER_STATUS_KEY] = this.statusCodes[0]!
    const endpoints: Record<string, EndpointSnapshot> = {}
    for (const endpoint of this.allEndpoints()) {
      if (endpoint.count > 0) endpoints[endpoint.key] = endpointSnapshot(endpoint)
    }
    const { mean, ...responseTimeMs } = this.histogram.summary()
    return {
      totalRequests: this.total,
      errorCount: this.errorCount,
      errorRate: this.total === 0 ? 0 : round(this.errorCount / this.total * 100, 2),
      averageResponseTimeMs: mean,
      responseTimeMs,
      requestsPerSecond: this.requestsPerSecond(now),
      inFlight: Math.max(0, this.inFlight),
      shed: this.shed,
      aborted: this.aborted,
      timedOut: this.timedOut,
      statusCodes,
      endpoints,
      recentErrors: this.readRecentErrors(),
      slowestRequests: this.slowest.read(now)
    }
  }

  /** The recent errors, newest first (what the shared directory carries to the other processes). */
  recentErrorList (): RecentError[] {
    return this.readRecentErrors()
  }

  private readRecentErrors (): RecentError[] {
    const errors: RecentError[] = []
    const size = this.recentErrors.length
    for (let i = 1; i <= size; i++) {
      const stored = this.recentErrors[(this.nextError - i + size) % size]
      if (stored === undefined) break
      const { time, code, ...rest } = stored
      errors.push({ timestamp: new Date(time).toISOString(), ...rest, ...(code === undefined ? {} : { code }) })
    }
    return errors
  }
}

function endpointSnapshot (endpoint: Endpoint): EndpointSnapshot {
  const { mean, ...percentiles } = endpoint.combined().summary()
  return { count: endpoint.count, errorCount: endpoint.errorCount, averageResponseTimeMs: mean, ...percentiles }
}

/** The config of a route that is not counted (`config.serverWatch: false`, the plugin's own routes). */
const SKIP = new Endpoint('*', '(not counted)')
/** Set on a request when its response has been recorded, or it was aborted or handed over. */
const SETTLED = -1
/** Set on a request whose response is still being written when our onSend returns: its `close` settles it. */
const DEFERRED = -2
type RouteConfig = Record<string | symbol, unknown> & { url?: string, method?: string | string[], serverWatch?: unknown }
/**
 * Fastify keeps each route's context, whose `config` is a per-route object Fastify builds itself
 * (`{ ...opts.config, url, method }`), under a symbol it does not export. One property load reaches it; the
 * public `request.routeOptions` builds a 13-field object on every read (measured with callgrind on a hello-world
 * route: the request path costs +4.9% instructions through routeOptions, +3.1% through the context). Found by
 * its description on the first request; if a Fastify version renames it, `routeOptions.config` is used instead.
 */
export function findContextSymbol (request: FastifyRequest): symbol | null {
  for (const symbol of Object.getOwnPropertySymbols(request)) {
    const value = (request as unknown as Record<symbol, { config?: unknown } | undefined>)[symbol]
    if (symbol.description === 'fastify.context' && typeof value?.config === 'object' && value.config !== null) return symbol
  }
  return null
}

export interface RequestHooks {
  onRequest (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void
  onSend (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: HookHandlerDoneFunction): void
  onError (request: FastifyRequest, reply: FastifyReply, error: Error, done: HookHandlerDoneFunction): void
  onTimeout (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void
  /** Called by load shedding before it answers: the request is counted as shed, and in no other figure. */
  shed (request: FastifyRequest): void
}

/**
 * The hooks that feed RequestMetrics, measured with callgrind, hook by hook, against bare Fastify
 * (benchmark/README.md):
 *
 * - Start: one root `onRequest`. Root, not route-level: it sees every route, including those registered before
 *   the plugin had loaded (`app.register(serverWatch); app.get(...)` without await) and requests that a
 *   later-registered root hook (rate limit, auth) answers. It finds the route's Endpoint on Fastify's per-route
 *   config (cached there on first use: no Map lookup, no string built), takes the start time and notes the
 *   reply on its socket.
 * - End: one root `onSend`, which lets the rest of the onSend chain run first (`done()`) and then reads the
 *   outcome: when the chain was synchronous, as it is for a plain body, the response has been written by then,
 *   with its final status, even if a later onSend hook changed it (an ETag's 304) or threw (a 500). When it was
 *   not (a stream, a fetch `Response`, an async onSend hook after ours), the response's `close` settles it, timed
 *   to the last byte. Not `onResponse`: any onResponse hook makes Fastify attach two listeners and a closure to
 *   every response when the logger is off, +7.3% instructions on its own, where an onSend hook costs +0.4%.
 * - Aborts: one `close` listener per connection, not `onRequestAbort`, which adds a listener and a closure to
 *   every request (+6.7%). When a connection closes with a request still unanswered, that request was aborted.
 *   HTTP/2 streams share a session, so there each request's own stream is watched the same way.
 * - A reply you `hijack()` leaves Fastify's lifecycle before onSend: it is not counted or timed, and leaves
 *   `inFlight` when its connection (HTTP/2: its stream) closes or carries the next request.
 */
export function createRequestHooks (metrics: RequestMetrics, { http2 = false }: { http2?: boolean } = {}): RequestHooks {
  /*
   * What the hooks keep on a request, on a route's config and on a socket, under symbols of this instance: a
   * plugin at the root and one in a child context both see a child route's requests, and a shared key let one
   * settle the other's request (issue 15.4). Set by our hooks, not declared with `decorateRequest`: Fastify's
   * Request constructor copies decorators in a loop whose keyed stores V8 cannot specialise, +1.4% instructions
   * per request for three of them (benchmark/hooks.js). Every request counted gets the same two properties in the
   * same order, so its shape stays one shape.
   */
  const kEndpoint = Symbol('serverWatch.endpoint')
  /** Its start time, or SETTLED or DEFERRED; undefined before our onRequest ran. */
  const kStart = Symbol('serverWatch.start')
  const kError = Symbol('serverWatch.error')
  /** On Fastify's per-route config object: the route's Endpoint (or, for a route of several methods, one per method). */
  const kConfigEndpoint = Symbol('serverWatch.routeEndpoint')
  /**
   * On what is watched for a request's end, a socket (HTTP/1) or the request's stream (HTTP/2): the reply being
   * answered on it (null between requests), so that its `close` can settle it.
   */
  const kWatchedReply = Symbol('serverWatch.reply')
  type Tracked = FastifyRequest & { [kEndpoint]?: Endpoint, [kStart]?: number, [kError]?: Error }
  interface Watched {
    [kWatchedReply]?: FastifyReply | null
    readonly destroyed?: boolean
    on (event: 'close', listener: () => void): unknown
  }
  let kContext: symbol | null | undefined

  function configOf (request: FastifyRequest): RouteConfig | undefined {
    if (kContext === undefined) kContext = findContextSymbol(request)
    return kContext === null
      ? request.routeOptions.config as RouteConfig | undefined
      : (request as unknown as Record<symbol, { config?: RouteConfig } | undefined>)[kContext]?.config
  }

  function endpointOf (request: Tracked): Endpoint {
    const config = configOf(request)
    // A request without a route config is one no Fastify 5 makes: left uncounted rather than failing the app.
    if (config == null) return SKIP
    const cached = config[kConfigEndpoint]
    return cached instanceof Endpoint ? cached : resolve(config, cached as Record<string, Endpoint> | undefined, request)
  }

  /** First request of a route (or every request of a multi-method route): the Endpoint, cached on its config. */
  function resolve (config: RouteConfig, byMethod: Record<string, Endpoint> | undefined, request: Tracked): Endpoint {
    // The not-found context has no url; its config may be the object given to setNotFoundHandler: not written.
    if (config.url === undefined) return metrics.notFound
    if (config.serverWatch === false) return (config[kConfigEndpoint] = SKIP)
    // Resolved on the route's first request, so that maxRoutes counts routes that are used.
    if (typeof config.method === 'string') return (config[kConfigEndpoint] = metrics.endpointFor(config.method, config.url))
    const methods = byMethod ?? (config[kConfigEndpoint] = Object.create(null) as Record<string, Endpoint>)
    return (methods[request.method] ??= metrics.endpointFor(request.method, config.url))
  }

  /**
   * What to watch for the request's end: its socket, or on HTTP/2 the request object, which emits `close` with its
   * stream. An HTTP/1.1 request on an HTTP/2 server (`allowHTTP1`) has no stream: its socket, as on HTTP/1 (its
   * IncomingMessage closes as soon as its body has been read, so watching it would abort every POST).
   */
  function watchedOf (request: Tracked): Watched | null {
    const raw = request.raw as unknown as { socket: Watched | null, stream?: Watched }
    return http2 && raw.stream !== undefined ? raw as unknown as Watched : raw.socket
  }

  /** The connection or stream behind what is watched has already closed: its `close` will not come again. */
  function isGone (request: Tracked, watched: Watched): boolean {
    return (watched === request.raw as unknown ? (watched as unknown as { stream: Watched }).stream : watched).destroyed === true
  }

  function onRequest (request: Tracked, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    // Only a request not seen yet: a hook before ours that answered and still called done() must not restart it.
    if (request[kStart] === undefined) {
      const endpoint = endpointOf(request)
      if (endpoint !== SKIP) {
        request[kEndpoint] = endpoint
        const watched = watchedOf(request)
        // Gone while a hook before ours was running: its close has passed, so it is settled now.
        if (watched != null && isGone(request, watched)) {
          request[kStart] = SETTLED
          metrics.aborted++
        } else {
          request[kStart] = performance.now()
          metrics.inFlight++
          if (watched != null) watch(watched, reply)
        }
      }
    }
    done()
  }

  function watch (watched: Watched, reply: FastifyReply): void {
    const previous = watched[kWatchedReply]
    if (previous === undefined) watched.on('close', onWatchedClose)
    // A reply still here when the next request arrives was hijacked (it never reached onSend), or is a pipelined
    // request still being answered (onSend will record it; only its abort would go unseen).
    else if (previous !== null && previous.sent) handOver(previous.request)
    watched[kWatchedReply] = reply
  }

  function release (request: Tracked, reply: FastifyReply): void {
    const watched = watchedOf(request)
    if (watched != null && watched[kWatchedReply] === reply) watched[kWatchedReply] = null
  }

  function onWatchedClose (this: Watched): void {
    const reply = this[kWatchedReply]
    this[kWatchedReply] = null
    if (reply == null) return
    if (reply.sent) handOver(reply.request as Tracked)
    else abort(reply.request as Tracked)
  }

  /** Timed by our onRequest and not settled yet. */
  function isStarted (request: Tracked): boolean {
    const start = request[kStart]
    return start !== undefined && start > 0
  }

  function handOver (request: Tracked): void {
    if (!isStarted(request)) return
    request[kStart] = SETTLED
    metrics.inFlight--
  }

  function abort (request: Tracked): void {
    if (!isStarted(request)) return
    request[kStart] = SETTLED
    metrics.inFlight--
    metrics.aborted++
  }

  function onSend (request: Tracked, reply: FastifyReply, _payload: unknown, done: HookHandlerDoneFunction): void {
    const seen = request[kStart]
    if (seen === SETTLED || seen === DEFERRED) return done()
    // Not seen: a hook that ran before ours answered (or our onRequest was skipped): counted, with no duration.
    const endpoint = seen === undefined ? endpointOf(request) : request[kEndpoint]!
    if (endpoint === SKIP) return done()
    const start = seen ?? 0
    // The rest of the chain first (measured: the same cost as recording before it), so that the status read below
    // is the one sent. It may run this hook again (an onSend hook after ours failed: the error response goes
    // through the chain), which then settles the request itself.
    try {
      done()
    } catch (error) {
      // Writing the response threw (a header value Node refuses): Fastify answers 500 through its error path, and
      // may write it to the raw response without running onSend again. Its close settles the request either way.
      if (request[kStart] === seen) defer(request, reply, endpoint, start)
      throw error
    }
    if (request[kStart] !== seen) return
    if (reply.raw.writableEnded) finish(request, reply, endpoint, start)
    else defer(request, reply, endpoint, start)
  }

  /** The response is still being written: its own `close` tells its end or its abort, not the connection's. */
  function defer (request: Tracked, reply: FastifyReply, endpoint: Endpoint, start: number): void {
    request[kStart] = DEFERRED
    if (start > 0) release(request, reply)
    // Already closed (its connection went while an async onSend hook ran): no close event will come.
    if (reply.raw.destroyed) settleOnClose(request, reply, endpoint, start)
    else reply.raw.once('close', () => settleOnClose(request, reply, endpoint, start))
  }

  /**
   * A response written after our onSend returned is timed to its end; closed before it was ended, it was aborted.
   * Ended, not finished (flushed): a response handed over in full is not an abort if the client then leaves, and
   * light-my-request's responses (app.inject) never report themselves finished.
   */
  function settleOnClose (request: Tracked, reply: FastifyReply, endpoint: Endpoint, start: number): void {
    if (request[kStart] !== DEFERRED) return
    if (reply.raw.writableEnded) {
      finish(request, reply, endpoint, start)
    } else {
      request[kStart] = SETTLED
      if (start > 0) {
        metrics.inFlight--
        metrics.aborted++
      }
    }
  }

  function finish (request: Tracked, reply: FastifyReply, endpoint: Endpoint, start: number): void {
    request[kStart] = SETTLED
    let durationMs = 0
    if (start > 0) {
      durationMs = performance.now() - start
      metrics.inFlight--
      release(request, reply)
    }
    metrics.record(endpoint, reply.statusCode, durationMs)
    // One comparison for every response; only an outlier builds anything.
    if (durationMs > metrics.slowest.threshold) metrics.slowest.capture(request, endpoint.route, reply.statusCode, durationMs)
    const error = request[kError]
    if (error !== undefined) metrics.recordError(request, endpoint.route, reply.statusCode, error)
  }

  /** onError is for observing: the error is kept until onSend, which knows the final status code. */
  function onError (request: Tracked, _reply: FastifyReply, error: Error, done: HookHandlerDoneFunction): void {
    request[kError] = error
    done()
  }

  function onTimeout (request: Tracked, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const start = request[kStart] ?? 0
    // DEFERRED: a streamed response that stalled.
    if (start > 0 || start === DEFERRED) metrics.timedOut++
    done()
  }

  // Left out of the totals, the error rate and the latencies: a rule on the error rate that sheds would otherwise
  // keep itself firing with its own 503s.
  function shed (request: Tracked): void {
    if (isStarted(request)) metrics.inFlight--
    request[kStart] = SETTLED
    metrics.shed++
  }

  return { onRequest, onSend, onError, onTimeout, shed }
}
