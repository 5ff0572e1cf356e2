/**
 * The breakdown's Prometheus families: per route, the seconds spent in database and outbound calls and their count
 * (bounded like the routes: `maxRoutes`, then `(other routes)`; calls outside any request under the route
 * `(outside requests)`), N+1 requests per route, and outbound calls by host. Written through the one exposition
 * writer; this file only says what the families are.
 */
import { labels, msToSeconds } from '../prometheus.js'
import type { Breakdown } from './index.js'
import { OUTSIDE_REQUESTS, type OutsideCalls } from './outside.js'
import type { CallAggregate, RouteBreakdown } from './routes.js'

type MetricType = 'counter' | 'gauge'

/** What the families need of the exposition writer. */
export interface FamilyWriter {
  family (name: string, type: MetricType, help: string): void
  sample (name: string, labelText: string, value: number): void
}

interface Kind {
  readonly name: 'database' | 'outbound'
  readonly what: string
  aggregate (route: RouteBreakdown): CallAggregate | null
  outside (breakdown: Breakdown): OutsideCalls | null
}

const KINDS: readonly Kind[] = [
  { name: 'database', what: 'MongoDB commands', aggregate: (route) => route.database, outside: (breakdown) => breakdown.outside.database },
  { name: 'outbound', what: 'outbound HTTP calls', aggregate: (route) => route.outbound, outside: (breakdown) => breakdown.outside.outbound }
]

const routeLabels = (route: RouteBreakdown): string => labels(['method', route.method], ['route', route.route])
const OUTSIDE_LABELS = labels(['method', '*'], ['route', OUTSIDE_REQUESTS])

export function writeBreakdown (out: FamilyWriter, breakdown: Breakdown): void {
  const routes = [...breakdown.routes()]
  for (const kind of KINDS) {
    const outside = kind.outside(breakdown)
    if (outside === null) continue
    const rows = routes.map((route) => [routeLabels(route), kind.aggregate(route)!] as const)
    const seconds = `server_watch_route_${kind.name}_seconds_total`
    out.family(seconds, 'counter', `Wall time the route's answered requests spent waiting for ${kind.what} (concurrent calls once), by method and route`)
    for (const [labelText, aggregate] of rows) out.sample(seconds, labelText, msToSeconds(aggregate.timeMs))
    out.sample(seconds, OUTSIDE_LABELS, msToSeconds(outside.timeMs))
    const calls = `server_watch_route_${kind.name}_calls_total`
    out.family(calls, 'counter', `${kind.what[0]!.toUpperCase()}${kind.what.slice(1)} made by the route's answered requests, by method and route`)
    for (const [labelText, aggregate] of rows) out.sample(calls, labelText, aggregate.calls)
    out.sample(calls, OUTSIDE_LABELS, outside.calls)
  }
  if (breakdown.outside.database !== null) {
    out.family('server_watch_route_n_plus_one_requests_total', 'counter', 'Requests in which one query shape ran nPlusOneCalls times or more, by method and route')
    for (const route of routes) out.sample('server_watch_route_n_plus_one_requests_total', routeLabels(route), route.nPlusOne)
  }
  const outbound = breakdown.outbound()
  if (outbound !== null) {
    const hosts = Object.entries(outbound.hosts)
    out.family('server_watch_outbound_requests_total', 'counter', 'Outbound HTTP calls by host:port (past 50 hosts, "(other hosts)")')
    for (const [host, figures] of hosts) out.sample('server_watch_outbound_requests_total', labels(['host', host]), figures.calls)
    out.family('server_watch_outbound_errors_total', 'counter', 'Outbound HTTP calls that failed or were answered 500 or more, by host:port')
    for (const [host, figures] of hosts) out.sample('server_watch_outbound_errors_total', labels(['host', host]), figures.errors)
  }
}
