import { performance } from 'node:perf_hooks'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { Shedding } from '../alerts/shedding.js'
import { routeConfigReader, type RouteConfig } from './fastify-internals.js'
import { Endpoint } from './endpoint.js'
import type { RequestMetrics } from './store.js'
import { NO_ERROR_GROUPS, type ErrorGroups } from '../error-groups/index.js'

/** The config of a route that is not counted (`config.serverWatch: false`, the plugin's own routes). */
const SKIP = new Endpoint('*', '(not counted)')
/*
 * A request's lifecycle state shares its start-time slot: undefined (not seen by our onRequest), a start time
 * (performance.now(), always > 0: in flight), or one of the two states below. One slot rather than a separate state
 * property keeps the request path at two property stores per request (benchmark/README.md, "hooks.js").
 */
/** Set on a request when its response has been recorded, or it was aborted or handed over. */
const SETTLED = -1
/** Set on a request whose response is still being written when our onSend returns: its `close` settles it. */
const DEFERRED = -2

export interface RequestHooks {
  onRequest (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void
  onSend (request: FastifyRequest, reply: FastifyReply, payload: unknown, done: HookHandlerDoneFunction): void
  onError (request: FastifyRequest, reply: FastifyReply, error: Error, done: HookHandlerDoneFunction): void
  onTimeout (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void
}

/**
 * The hooks that feed RequestMetrics. Each choice below was made for speed; the measurements are in
 * benchmark/README.md ("What that decided").
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
 *   every response when the logger is off.
 * - Aborts: one `close` listener per connection, not `onRequestAbort`, which adds a listener and a closure to
 *   every request. When a connection closes with a request still unanswered, that request was aborted.
 *   HTTP/2 streams share a session, so there each request's own stream is watched the same way.
 * - A reply you `hijack()` leaves Fastify's lifecycle before onSend: it is not counted or timed, and leaves
 *   `inFlight` when its connection (HTTP/2: its stream) closes or carries the next request.
 */
export function createRequestHooks (metrics: RequestMetrics, { http2 = false, shedding = null, settled = null, errorGroups = NO_ERROR_GROUPS }: {
  http2?: boolean
  /** Where errors are grouped (lib/error-groups/); a do-nothing seam when the groups are off. */
  errorGroups?: Pick<ErrorGroups, 'record'>
  shedding?: Shedding | null
  /** Told of each request whose response was recorded (the breakdown seals its context there); null: nothing is. */
  settled?: ((request: FastifyRequest) => void) | null
} = {}): RequestHooks {
  /*
   * What the hooks keep on a request, on a route's config and on a socket, under symbols of this instance: a
   * plugin at the root and one in a child context both see a child route's requests, and a shared key let one
   * settle the other's request (issue 15.4). Set by our hooks, not declared with `decorateRequest`, which costs
   * every request a copy loop (benchmark/README.md). Every request counted gets the same two properties in the
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
  const configOf = routeConfigReader()

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
    if (request[kStart] === undefined) start(request, reply)
    done()
  }

  /**
   * With a shedding rule: the same, plus one boolean read while nothing fires. Chosen at start-up, so that shedding
   * adds no hook and an app without it pays nothing (benchmark/README.md, "Load shedding on, not firing").
   */
  function onRequestShedding (request: Tracked, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (request[kStart] === undefined) {
      start(request, reply)
      if (shedding!.gate.shedding && shedding!.sheddable(configOf(request))) {
        shed(request)
        return shedding!.refuse(request, reply)
      }
    }
    done()
  }

  function start (request: Tracked, reply: FastifyReply): void {
    const endpoint = endpointOf(request)
    if (endpoint === SKIP) return
    request[kEndpoint] = endpoint
    const watched = watchedOf(request)
    // Gone while a hook before ours was running: its close has passed, so it is settled now.
    if (watched != null && isGone(request, watched)) {
      request[kStart] = SETTLED
      metrics.abortedBeforeStart()
    } else {
      request[kStart] = performance.now()
      metrics.started()
      if (watched != null) watch(watched, reply)
    }
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
    metrics.left()
  }

  function abort (request: Tracked): void {
    if (!isStarted(request)) return
    request[kStart] = SETTLED
    metrics.abortedInFlight()
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
      if (start > 0) metrics.abortedInFlight()
    }
  }

  /** Chosen at start-up: without `settled`, recording is all (no branch per request). */
  const finish = settled === null
    ? record
    : (request: Tracked, reply: FastifyReply, endpoint: Endpoint, start: number): void => {
        record(request, reply, endpoint, start)
        settled(request)
      }

  function record (request: Tracked, reply: FastifyReply, endpoint: Endpoint, start: number): void {
    request[kStart] = SETTLED
    let durationMs = 0
    if (start > 0) {
      durationMs = performance.now() - start
      metrics.left()
      release(request, reply)
    }
    metrics.record(endpoint, reply.statusCode, durationMs)
    // One comparison for every response; only an outlier builds anything.
    if (durationMs > metrics.slowest.threshold) metrics.slowest.capture(request, endpoint.route, reply.statusCode, durationMs)
    const error = request[kError]
    if (error !== undefined) {
      metrics.recordError(request, endpoint.route, reply.statusCode, error)
      errorGroups.record(error, endpoint.key, reply.statusCode)
    }
  }

  /** onError is for observing: the error is kept until onSend, which knows the final status code. */
  function onError (request: Tracked, _reply: FastifyReply, error: Error, done: HookHandlerDoneFunction): void {
    request[kError] = error
    done()
  }

  function onTimeout (request: Tracked, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const start = request[kStart] ?? 0
    // DEFERRED: a streamed response that stalled.
    if (start > 0 || start === DEFERRED) metrics.timedOutOne()
    done()
  }

  // Left out of the totals, the error rate and the latencies: a rule on the error rate that sheds would otherwise
  // keep itself firing with its own 503s.
  function shed (request: Tracked): void {
    if (isStarted(request)) metrics.left()
    request[kStart] = SETTLED
    metrics.shedOne()
  }

  return { onRequest: shedding === null ? onRequest : onRequestShedding, onSend, onError, onTimeout }
}
