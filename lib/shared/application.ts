import { round } from '../format.js'
import { Histogram } from '../histogram.js'
import type { EndpointSnapshot } from '../schemas/health.js'
import type { FleetView } from './store.js'
import { STATUS_SLOTS, type Counts, type CountsEndpoint } from './tally.js'

/** The `statusCodes` key of slot 0 (a code outside 100 to 999), as the request store names it. */
const OTHER_STATUS_KEY = 'other'

/**
 * The fleet's request figures in the snapshot's shape: counters added up, percentiles from the merged buckets.
 * `requestsPerSecond` and `inFlight` are the live processes' sum; the rest of the application snapshot (the last
 * minute, the slowest requests) stays the answering process's own.
 */
export function fleetApplication (view: FleetView) {
  const { counts, gauges } = view
  const statusCodes: Record<string, number> = {}
  for (let code = 100; code < STATUS_SLOTS; code++) {
    if (counts.statusCodes[code]! > 0) statusCodes[code] = counts.statusCodes[code]!
  }
  if (counts.statusCodes[0]! > 0) statusCodes[OTHER_STATUS_KEY] = counts.statusCodes[0]!
  const endpoints: Record<string, EndpointSnapshot> = {}
  for (const endpoint of view.routes().allEndpoints()) {
    if (endpoint.count > 0) endpoints[endpoint.key] = endpointSnapshot(endpoint)
  }
  const { mean, ...responseTimeMs } = counts.histogram.summary()
  return {
    totalRequests: counts.total,
    errorCount: counts.errorCount,
    errorRate: counts.total === 0 ? 0 : round(counts.errorCount / counts.total * 100, 2),
    averageResponseTimeMs: mean,
    responseTimeMs,
    requestsPerSecond: gauges.requestsPerSecond,
    inFlight: Math.max(0, gauges.inFlight),
    shed: counts.shed,
    aborted: counts.aborted,
    timedOut: counts.timedOut,
    statusCodes,
    endpoints,
    recentErrors: view.recentErrors
  }
}

function endpointSnapshot (endpoint: CountsEndpoint): EndpointSnapshot {
  const all = new Histogram()
  for (const histogram of endpoint.byClass) if (histogram !== undefined) all.add(histogram)
  const { mean, ...percentiles } = all.summary()
  return { count: endpoint.count, errorCount: endpoint.errorCount, averageResponseTimeMs: mean, ...percentiles }
}

/**
 * The fleet's totals as one stable object that the history's windows can hold on to: refilled in place from each
 * view, so that its histogram is always the same instance.
 */
export class FleetTotals {
  total = 0
  errorCount = 0
  readonly histogram = new Histogram()

  fill (counts: Counts): void {
    // Never backwards: a window over a histogram that shrank would read negative counts.
    if (counts.total < this.total) return
    this.total = counts.total
    this.errorCount = counts.errorCount
    this.histogram.reset()
    this.histogram.add(counts.histogram)
  }
}
