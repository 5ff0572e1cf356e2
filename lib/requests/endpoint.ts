import { BUCKET_COUNT, Histogram } from '../histogram.js'
import type { EndpointCounters } from './counts.js'

/** The endpoint of requests that matched no route. */
export const NOT_FOUND_KEY = '(not found)'
/** The endpoint that routes past `maxRoutes` share, in one process and in a fleet's sum. */
export const OVERFLOW_KEY = '(other routes)'

/** One route's counters: this process's (fed by the hooks), a dead process's folded ones, or a fleet's sum. */
export class Endpoint implements EndpointCounters {
  count = 0
  errorCount = 0
  /**
   * Durations by status class (index 1 to 5 for 1xx to 5xx), each created on the first response of its class,
   * so that Prometheus gets a duration histogram per method, route and status class.
   */
  readonly byClass: Array<Histogram | undefined> = [undefined, undefined, undefined, undefined, undefined, undefined]
  /**
   * Only with `prometheus: { statusCode: true }`: durations by status slot, each created on the first response with
   * that code (one Map lookup a request, 2.9 kB a code an endpoint answered with).
   */
  byCode: Map<number, Histogram> | undefined = undefined
  constructor (readonly method: string, readonly route: string, readonly key = `${method} ${route}`) {}

  record (index: number, statusClass: number, durationMs: number, slot: number): void {
    this.count++
    if (statusClass === 5) this.errorCount++
    ;(this.byClass[statusClass] ??= new Histogram()).recordAt(index, durationMs)
    if (this.byCode !== undefined) {
      let histogram = this.byCode.get(slot)
      if (histogram === undefined) this.byCode.set(slot, histogram = new Histogram())
      histogram.recordAt(index, durationMs)
    }
  }

  /** Every class together: what the snapshot's percentiles read. */
  combined (): Histogram {
    const all = new Histogram()
    for (const histogram of this.byClass) if (histogram !== undefined) all.add(histogram)
    return all
  }
}

/** `sign` -1 subtracts: what a process already handed over once (see lib/shared/writer.ts's baseline) is taken out. */
export function addHistogram (target: Histogram, source: Histogram, sign: 1 | -1 = 1): void {
  if (sign === 1) {
    target.add(source)
    return
  }
  for (let index = 0; index < BUCKET_COUNT; index++) target.counts[index]! -= source.counts[index]!
  target.count -= source.count
  target.sum -= source.sum
}

/**
 * Endpoints by key, at most `maxRoutes` of them: past it, a new key gets the overflow endpoint, so that memory does
 * not grow with the URLs a client makes up. The not-found and overflow endpoints are always there, and listed last.
 */
export class EndpointTable {
  readonly byKey = new Map<string, Endpoint>()
  readonly notFound = new Endpoint('*', NOT_FOUND_KEY, NOT_FOUND_KEY)
  readonly overflow = new Endpoint('*', OVERFLOW_KEY, OVERFLOW_KEY)

  /** `byStatusCode`: every endpoint also keeps its durations by exact status code (`prometheus: { statusCode: true }`). */
  constructor (private readonly maxRoutes: number, private readonly byStatusCode = false) {
    if (byStatusCode) {
      this.notFound.byCode = new Map()
      this.overflow.byCode = new Map()
    }
  }

  /** The endpoint of `key`: a new one until `maxRoutes` keys exist, then the overflow. */
  endpointFor (method: string, route: string, key = `${method} ${route}`): Endpoint {
    let endpoint = this.byKey.get(key)
    if (endpoint === undefined) {
      if (key === NOT_FOUND_KEY) return this.notFound
      if (key === OVERFLOW_KEY || this.byKey.size >= this.maxRoutes) return this.overflow
      endpoint = new Endpoint(method, route, key)
      if (this.byStatusCode) endpoint.byCode = new Map()
      this.byKey.set(key, endpoint)
    }
    return endpoint
  }

  /** The endpoint of `key` if it exists. */
  find (key: string): Endpoint | undefined {
    return this.byKey.get(key) ?? (key === NOT_FOUND_KEY ? this.notFound : key === OVERFLOW_KEY ? this.overflow : undefined)
  }

  /** Every endpoint in the order first used, the not-found and overflow endpoints last. */
  all (): Endpoint[] {
    return [...this.byKey.values(), this.notFound, this.overflow]
  }
}
