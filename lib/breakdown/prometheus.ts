/**
 * The breakdown's Prometheus families: per route, the seconds spent in database and outbound calls and their count
 * (bounded like the routes: `maxRoutes`, then `(other routes)`; calls outside any request under the route
 * `(outside requests)`), N+1 requests per route, and outbound calls by server. This process's calls: scope
 * `process`, so shared mode leaves them out. No sample, and so no family, without `breakdown`.
 */
import { msToSeconds } from '../prometheus/buckets.js'
import { labelled, type Family } from '../prometheus/family.js'
import type { MetricsRead } from '../prometheus/read.js'
import type { Breakdown } from './index.js'
import { OUTSIDE_REQUESTS, type OutsideCalls } from './outside.js'
import type { CallAggregate, RouteBreakdown } from './routes.js'

type Sample = readonly [readonly string[], number]
const ROUTE_LABELS = ['method', 'route'] as const

function * perRoute (breakdown: Breakdown | null | undefined, kind: 'database' | 'outbound', value: (aggregate: CallAggregate | OutsideCalls) => number): Iterable<Sample> {
  const outside = breakdown?.outside[kind] ?? null
  if (outside === null) return
  for (const route of breakdown!.routes()) yield [[route.method, route.route], value(route[kind]!)]
  yield [['*', OUTSIDE_REQUESTS], value(outside)]
}

function * hosts (breakdown: Breakdown | null | undefined, value: (figures: { calls: number, errors: number }) => number): Iterable<Sample> {
  const outbound = breakdown?.outbound() ?? null
  if (outbound === null) return
  for (const [host, figures] of Object.entries(outbound.hosts)) {
    const colon = host.lastIndexOf(':')
    yield [colon === -1 ? [host, ''] : [host.slice(0, colon).replace(/^\[|\]$/g, ''), host.slice(colon + 1)], value(figures)]
  }
}

const nPlusOne = (route: RouteBreakdown): number => route.nPlusOne

export const BREAKDOWN_FAMILIES: ReadonlyArray<Family<MetricsRead>> = [
  labelled('server_watch_route_database_seconds_total', 'counter', 'process',
    'Wall time the route\'s answered requests spent waiting for MongoDB commands (concurrent ones once), by method and route', ROUTE_LABELS,
    (read) => perRoute(read.breakdown, 'database', (aggregate) => msToSeconds(aggregate.timeMs))),
  labelled('server_watch_route_database_calls_total', 'counter', 'process',
    'MongoDB commands run by the route\'s answered requests, by method and route', ROUTE_LABELS,
    (read) => perRoute(read.breakdown, 'database', (aggregate) => aggregate.calls)),
  labelled('server_watch_route_outbound_seconds_total', 'counter', 'process',
    'Wall time the route\'s answered requests spent waiting for outbound HTTP calls (concurrent ones once), by method and route', ROUTE_LABELS,
    (read) => perRoute(read.breakdown, 'outbound', (aggregate) => msToSeconds(aggregate.timeMs))),
  labelled('server_watch_route_outbound_calls_total', 'counter', 'process',
    'Outbound HTTP calls made by the route\'s answered requests, by method and route', ROUTE_LABELS,
    (read) => perRoute(read.breakdown, 'outbound', (aggregate) => aggregate.calls)),
  labelled('server_watch_route_n_plus_one_requests_total', 'counter', 'process',
    'Requests in which one query shape ran nPlusOneCalls times or more, by method and route', ROUTE_LABELS,
    function * (read) {
      if (read.breakdown?.outside.database == null) return
      for (const route of read.breakdown.routes()) yield [[route.method, route.route], nPlusOne(route)] as const
    }),
  labelled('server_watch_outbound_requests_total', 'counter', 'process',
    'Outbound HTTP calls by server (past 50, server_address "(other hosts)")', ['server_address', 'server_port'],
    (read) => hosts(read.breakdown, (figures) => figures.calls)),
  labelled('server_watch_outbound_errors_total', 'counter', 'process',
    'Outbound HTTP calls that failed or were answered 500 or more, by server', ['server_address', 'server_port'],
    (read) => hosts(read.breakdown, (figures) => figures.errors))
]
