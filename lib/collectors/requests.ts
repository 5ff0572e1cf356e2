import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify'
import { Histogram, bucketIndex } from '../histogram.js'
import { errorMessage, round } from '../format.js'
import type { ApplicationSnapshot, EndpointSnapshot, RecentError } from '../schemas/health.js'

export const NOT_FOUND_KEY = '(not found)'
export const OVERFLOW_KEY = '(other routes)'
/** requestsPerSecond is the rate over this recent window. */
export const RATE_WINDOW_MS = 10_000

/** Request decorators, symbol-keyed so they stay out of the user's namespace. */
export const kEndpoint = Symbol('serverWatch.endpoint')
export const kError = Symbol('serverWatch.error')

declare module 'fastify' {
  interface FastifyRequest {
    [kEndpoint]: Endpoint | null
    [kError]: Error | null
  }
}

export class Endpoint {
  count = 0
  errorCount = 0
  /**
   * Durations by status class (index 1 to 5 for 1xx to 5xx), each created on the first response of its class,
   * so that Prometheus gets a duration histogram per method, route and status class.
   */
  readonly byClass: Array<Histogram | undefined> = [undefined, undefined, undefined, undefined, undefined, undefined]
  constructor (readonly method: string, readonly route: string, readonly key = `${method} ${route}`) {}

  record (index: number, statusCode: number, durationMs: number): void {
    const statusClass = statusCode >= 600 ? 5 : (statusCode / 100) | 0
    this.count++
    if (statusCode >= 500) this.errorCount++
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
  aborted = 0
  timedOut = 0
  /** Indexed by status code: one increment per response, no key built. */
  readonly statusCodes = new Uint32Array(600)
  readonly histogram = new Histogram()
  readonly endpoints = new Map<string, Endpoint>()
  readonly notFound = new Endpoint('*', NOT_FOUND_KEY, NOT_FOUND_KEY)
  readonly overflow = new Endpoint('*', OVERFLOW_KEY, OVERFLOW_KEY)
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
    endpoint.record(index, statusCode, durationMs)
    if (statusCode < 600) this.statusCodes[statusCode]!++
    if (statusCode >= 500) this.errorCount++
  }

  recordError (request: FastifyRequest, route: string, statusCode: number, error: Error): void {
    if (this.maxRecentErrors === 0) return
    const url = request.url
    const query = url.indexOf('?')
    const code = (error as { code?: unknown }).code
    this.recentErrors[this.nextError] = {
      time: Date.now(),
      method: request.method,
      route,
      path: (query === -1 ? url : url.slice(0, query)).slice(0, 512),
      statusCode,
      message: errorMessage(error, this.maxMessageLength),
      code: typeof code === 'string' ? code.slice(0, 64) : undefined
    }
    this.nextError = (this.nextError + 1) % this.maxRecentErrors
  }

  /** Called on the sampling loop: remembers the total so that requestsPerSecond covers a recent window. */
  tick (now: number): void {
    this.rateTimes[this.rateHead] = now
    this.rateTotals[this.rateHead] = this.total
    this.rateHead = (this.rateHead + 1) % this.rateTimes.length
    if (this.rateFilled < this.rateTimes.length) this.rateFilled++
  }

  requestsPerSecond (now: number): number {
    if (this.rateFilled === 0) return 0
    const oldest = this.rateFilled < this.rateTimes.length ? 0 : this.rateHead
    const seconds = (now - this.rateTimes[oldest]!) / 1000
    return seconds > 0 ? round((this.total - this.rateTotals[oldest]!) / seconds, 2) : 0
  }

  snapshot (now: number): ApplicationSnapshot {
    const statusCodes: Record<string, number> = {}
    for (let code = 100; code < 600; code++) {
      if (this.statusCodes[code]! > 0) statusCodes[code] = this.statusCodes[code]!
    }
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
      aborted: this.aborted,
      timedOut: this.timedOut,
      statusCodes,
      endpoints,
      recentErrors: this.readRecentErrors()
    }
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

/**
 * The hooks that feed RequestMetrics. The request path is: a route-level onRequest (added by `onRoute`, so the
 * endpoint is resolved once per route and captured, never looked up) stamps the endpoint on the request; the
 * root onResponse records it. Requests that matched no route never ran a route-level hook and are recognised
 * with `request.is404` (4 ns); opted-out routes and the plugin's own routes have no stamp and are skipped.
 * Reading `request.routeOptions` instead would allocate an object per request (measured 39 ns a read).
 */
export function createRequestHooks (metrics: RequestMetrics) {
  function onRoute (route: RouteOptions): void {
    if ((route.config as { serverWatch?: unknown } | undefined)?.serverWatch === false) return
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    // Resolved lazily, on the route's first request, so maxRoutes counts routes that are used.
    const resolved: Record<string, Endpoint> = Object.create(null)
    const single = methods.length === 1 ? methods[0]! : null
    let singleEndpoint: Endpoint | null = null
    function stampEndpoint (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
      let endpoint: Endpoint
      if (single !== null) {
        endpoint = singleEndpoint ??= metrics.endpointFor(single, route.url)
      } else {
        const method = request.method
        endpoint = resolved[method] ??= metrics.endpointFor(method, route.url)
      }
      request[kEndpoint] = endpoint
      metrics.inFlight++
      done()
    }
    const existing = route.onRequest
    route.onRequest = existing === undefined ? [stampEndpoint] : [stampEndpoint, ...[existing].flat()]
  }

  function onResponse (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    let endpoint = request[kEndpoint]
    if (endpoint === null) {
      if (!request.is404) return done()
      endpoint = metrics.notFound
    } else {
      metrics.inFlight--
    }
    metrics.record(endpoint, reply.statusCode, reply.elapsedTime)
    const error = request[kError]
    if (error !== null) metrics.recordError(request, endpoint.route, reply.statusCode, error)
    done()
  }

  /** onError is for observing: the error is kept until onResponse, which knows the final status code. */
  function onError (request: FastifyRequest, _reply: FastifyReply, error: Error, done: HookHandlerDoneFunction): void {
    request[kError] = error
    done()
  }

  function onRequestAbort (request: FastifyRequest, done: HookHandlerDoneFunction): void {
    if (request[kEndpoint] !== null) {
      metrics.aborted++
      metrics.inFlight--
      // An aborted request may still reach onResponse if the handler answers later: count it once.
      request[kEndpoint] = null
    } else if (request.is404) {
      metrics.aborted++
    }
    done()
  }

  function onTimeout (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (request[kEndpoint] !== null || request.is404) metrics.timedOut++
    done()
  }

  return { onRoute, onResponse, onError, onRequestAbort, onTimeout }
}
