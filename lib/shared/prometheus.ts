import type { RequestCounters } from '../requests/counts.js'
import type { FleetView } from './store.js'

/**
 * The fleet's request counts as the one request-counters interface, for /metrics in shared mode: the merged
 * totals with their endpoints, the live processes' in-flight sum, and whether timeouts are counted (every process
 * of one app has the same `connectionTimeout`, so this process's answer is the fleet's).
 *
 * An adapter until the fleet view implements RequestCounters itself (issue 27, lib/shared/ is being reshaped).
 */
export function fleetCounters (view: FleetView, countsTimeouts: boolean): RequestCounters {
  const { counts } = view
  return {
    total: counts.total,
    errorCount: counts.errorCount,
    inFlight: view.gauges.inFlight,
    shed: counts.shed,
    aborted: counts.aborted,
    timedOut: counts.timedOut,
    countsTimeouts,
    statusCodes: counts.statusCodes,
    histogram: counts.histogram,
    allEndpoints: () => view.routes().allEndpoints()
  }
}
