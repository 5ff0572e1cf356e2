import { Histogram } from '../histogram.js'
import { round } from '../format.js'
import type { CallFigures } from '../schemas/breakdown.js'
import type { RequestContext } from './context.js'

/** One kind of call (database or outbound) on one route, over the requests answered so far. */
export class CallAggregate {
  calls = 0
  /** Sum over requests of the wall time with at least one call of this kind running. */
  timeMs = 0
  /** Sum over requests of this kind's part of the request (time shared with the other kind counts half). */
  shareMs = 0
  /**
   * Per request wall time in this kind, for the p95: created on the route's first request that makes such a call
   * (most routes make no outbound call: 2.9 KB saved each); until then the requests are counted in `idle`.
   */
  perRequest: Histogram | null = null
  private idle = 0

  fold (calls: number, timeMs: number, shareMs: number): void {
    this.calls += calls
    this.timeMs += timeMs
    this.shareMs += shareMs
    if (this.perRequest !== null) {
      this.perRequest.record(timeMs)
    } else if (calls === 0) {
      this.idle++
    } else {
      const histogram = (this.perRequest = new Histogram())
      // The requests before, which took no time here, in the lowest bucket (what record(0) does).
      histogram.counts[0] = this.idle
      histogram.count = this.idle
      histogram.record(timeMs)
    }
  }

  p95 (): number | null {
    return this.perRequest === null ? (this.idle === 0 ? null : 0) : this.perRequest.percentile(0.95)
  }
}

/** Reported for each request in which one query shape ran `nPlusOneCalls` times or more. */
export type NPlusOneSink = (route: RouteBreakdown, shapeId: number, calls: number) => void

/**
 * Where one route's time goes, in fixed memory: two histograms and a few sums, whatever the traffic. A request is
 * folded in when its response is recorded; aborted requests, which have no response time, are not.
 */
export class RouteBreakdown {
  requests = 0
  /** Sum of the folded requests' durations, as the breakdown timed them (onRequest to the response). */
  durationMs = 0
  /** Requests in which one query shape ran `nPlusOneCalls` times or more. */
  nPlusOne = 0
  readonly database: CallAggregate | null
  readonly outbound: CallAggregate | null

  /** The endpoint key of the snapshot: `METHOD route`, or the route alone for the shared buckets. */
  readonly key: string

  constructor (readonly method: string, readonly route: string, database: boolean, outbound: boolean) {
    this.key = method === '*' ? route : `${method} ${route}`
    this.database = database ? new CallAggregate() : null
    this.outbound = outbound ? new CallAggregate() : null
  }

  fold (context: RequestContext, durationMs: number, nPlusOneCalls: number, onNPlusOne: NPlusOneSink): void {
    this.requests++
    this.durationMs += durationMs
    const half = context.bothMs / 2
    this.database?.fold(context.databaseCalls, context.databaseMs, context.databaseOnlyMs + half)
    this.outbound?.fold(context.outboundCalls, context.outboundMs, context.outboundOnlyMs + half)
    const ids = context.shapeIds
    if (ids === null) return
    const counts = context.shapeCounts!
    let flagged = false
    for (let slot = 0; slot < ids.length && ids[slot]! >= 0; slot++) {
      if (counts[slot]! >= nPlusOneCalls) {
        flagged = true
        onNPlusOne(this, ids[slot]!, counts[slot]!)
      }
    }
    if (flagged) this.nPlusOne++
  }

  figures (aggregate: CallAggregate): CallFigures {
    const requests = this.requests
    return {
      callsPerRequest: requests === 0 ? 0 : round(aggregate.calls / requests),
      timeMsPerRequest: {
        avg: requests === 0 ? 0 : round(aggregate.timeMs / requests),
        p95: aggregate.p95()
      },
      share: this.durationMs <= 0 ? 0 : round(Math.min(1, aggregate.shareMs / this.durationMs), 4)
    }
  }
}

/**
 * The routes' breakdowns by endpoint key, bounded like the request store's endpoints: past `maxRoutes` keys, the
 * rest share the overflow key.
 */
export class RouteTable {
  private readonly routes = new Map<string, RouteBreakdown>()

  /** Routes counted against `maxRoutes`: the shared keys (not found, overflow) are not. */
  private counted = 0

  constructor (
    private readonly maxRoutes: number,
    private readonly sharedKeys: { overflow: string },
    private readonly database: boolean,
    private readonly outbound: boolean
  ) {}

  /**
   * Called once per route (and method), on its first request: the result is cached on the route's config. The
   * shared buckets (not found, overflow) have the method `*`, as in the request store.
   */
  routeFor (method: string, pattern: string): RouteBreakdown {
    const key = method === '*' ? pattern : `${method} ${pattern}`
    let route = this.routes.get(key)
    if (route === undefined) {
      if (method !== '*') {
        if (this.counted >= this.maxRoutes) return this.routeFor('*', this.sharedKeys.overflow)
        this.counted++
      }
      route = new RouteBreakdown(method, pattern, this.database, this.outbound)
      this.routes.set(key, route)
    }
    return route
  }

  get (key: string): RouteBreakdown | undefined {
    return this.routes.get(key)
  }

  all (): IterableIterator<RouteBreakdown> {
    return this.routes.values()
  }
}
