/**
 * Where the time goes (option `breakdown`): each request's MongoDB commands and outbound HTTP calls, charged to its
 * route through AsyncLocalStorage, in fixed memory. docs/breakdown.md tells what is counted and how.
 */
import { performance } from 'node:perf_hooks'
import type { FastifyBaseLogger } from 'fastify'
import type { MongoClientLike } from '../collectors/mongo/client-types.js'
import { OVERFLOW_KEY } from '../requests/endpoint.js'
import { createRequestStorage, type RequestContext } from './context.js'
import { attributesCorrectly, createDatabaseBreakdown, type DatabaseBreakdown } from './database.js'
import { createBreakdownHooks, type BreakdownHooks } from './hooks.js'
import type { NormalizedBreakdown } from './options.js'
import { createOutboundBreakdown, type OutboundBreakdown } from './outbound.js'
import type { OutsideCalls } from './outside.js'
import { NPlusOneTable, ShapeRegistry, SlowQueries } from './queries.js'
import { RouteTable, type RouteBreakdown } from './routes.js'
import type { NPlusOnePattern, OutboundSnapshot, OutsideCalls as OutsideFigures, SlowQuery } from '../schemas/breakdown.js'
import type { EndpointSnapshot } from '../schemas/health.js'

export { OUTSIDE_REQUESTS } from './outside.js'

/** What `breakdown` adds to one endpoint of the snapshot. */
export type EndpointBreakdown = Pick<EndpointSnapshot, 'database' | 'outbound' | 'nPlusOne'>

/** What `breakdown` adds to the watched database of the snapshot. */
export interface DatabaseBreakdownFigures {
  slowQueries: SlowQuery[]
  nPlusOne: NPlusOnePattern[]
  outsideRequests: OutsideFigures
}

export interface Breakdown {
  readonly hooks: BreakdownHooks
  /** Starts listening to the driver's events and the diagnostics channels. */
  start (): void
  stop (): void
  /** The breakdown of one endpoint key of the snapshot, or null when none of its requests was folded. */
  endpoint (key: string): EndpointBreakdown | null
  /** null when database attribution is off (no `mongo`, `breakdown.database: false`, or a driver before 6.4). */
  database (): DatabaseBreakdownFigures | null
  outbound (): OutboundSnapshot | null
  /** Every route's aggregates (for /metrics), and the calls outside requests. */
  routes (): IterableIterator<RouteBreakdown>
  readonly outside: { database: OutsideCalls | null, outbound: OutsideCalls | null }
  /** The outbound calls' source, for OpenTelemetry (lib/breakdown/otel.ts); null when outbound is off. */
  readonly outboundCalls: OutboundBreakdown | null
}

const outsideFigures = (outside: OutsideCalls): OutsideFigures => ({ calls: outside.calls, timeMs: Math.round(outside.timeMs * 1000) / 1000 })

export function createBreakdown (options: NormalizedBreakdown, { mongo, maxRoutes, log, now = () => performance.now() }: {
  mongo: MongoClientLike | null
  maxRoutes: number
  log: FastifyBaseLogger
  now?: () => number
}): Breakdown {
  const storage = createRequestStorage()
  const shapes = new ShapeRegistry()
  const slowQueries = new SlowQueries()
  const nPlusOne = new NPlusOneTable(shapes)
  let database: DatabaseBreakdown | null = null
  if (options.database && mongo !== null) {
    if (attributesCorrectly(mongo)) {
      database = createDatabaseBreakdown(mongo, { storage, now, shapes, slowQueries })
    } else {
      log.warn('server-watch: breakdown.database needs mongodb driver 6.4 or later (older ones can run a command in another request\'s async context): the database is not broken down')
    }
  }
  const outbound: OutboundBreakdown | null = options.outbound ? createOutboundBreakdown({ storage, now }) : null
  const routes = new RouteTable(maxRoutes, { overflow: OVERFLOW_KEY }, database !== null, outbound !== null)
  const nPlusOneCalls = options.nPlusOneCalls

  function onNPlusOne (route: RouteBreakdown, shapeId: number, calls: number): void {
    nPlusOne.record(route.key, shapeId, calls)
  }
  function onSealed (context: RequestContext, durationMs: number): void {
    context.route.fold(context, durationMs, nPlusOneCalls, onNPlusOne)
  }

  return {
    hooks: createBreakdownHooks({ storage, routes, now, onSealed }),
    start () {
      database?.start()
      outbound?.start()
    },
    stop () {
      database?.stop()
      outbound?.stop()
      // The last storage disabled turns Node's async hooks off again.
      storage.disable()
    },
    endpoint (key) {
      const route = routes.get(key)
      if (route === undefined || route.requests === 0) return null
      const figures: EndpointBreakdown = {}
      if (route.database !== null) {
        figures.database = route.figures(route.database)
        figures.nPlusOne = route.nPlusOne
      }
      if (route.outbound !== null) figures.outbound = route.figures(route.outbound)
      return figures
    },
    database () {
      if (database === null) return null
      return { slowQueries: slowQueries.read(), nPlusOne: nPlusOne.read(), outsideRequests: outsideFigures(database.outside) }
    },
    outbound () {
      if (outbound === null) return null
      return { hosts: outbound.hosts.read(), outsideRequests: outsideFigures(outbound.outside) }
    },
    routes: () => routes.all(),
    outside: { database: database?.outside ?? null, outbound: outbound?.outside ?? null },
    outboundCalls: outbound
  }
}
