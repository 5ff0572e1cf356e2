import { round } from '../format.js'
import type { ApplicationSnapshot, EndpointSnapshot } from '../schemas/health.js'
import type { EndpointCounters, RequestCounters } from './counts.js'

/** The `statusCodes` key of slot 0: a code outside 100 to 999, so that every counted response has a code. */
export const OTHER_STATUS_KEY = 'other'

type RequestFigures = Pick<ApplicationSnapshot, 'totalRequests' | 'errorCount' | 'errorRate' | 'averageResponseTimeMs' |
'responseTimeMs' | 'inFlight' | 'shed' | 'aborted' | 'timedOut' | 'statusCodes' | 'endpoints'>

/** The application snapshot's request figures, built the same way for one process and for a fleet. */
export function requestFigures (counts: RequestCounters): RequestFigures {
  const statusCodes: Record<string, number> = {}
  for (let code = 100; code < counts.statusCodes.length; code++) {
    if (counts.statusCodes[code]! > 0) statusCodes[code] = counts.statusCodes[code]!
  }
  if (counts.statusCodes[0]! > 0) statusCodes[OTHER_STATUS_KEY] = counts.statusCodes[0]!
  const endpoints: Record<string, EndpointSnapshot> = {}
  for (const endpoint of counts.allEndpoints()) {
    if (endpoint.count > 0) endpoints[endpoint.key] = endpointSnapshot(endpoint)
  }
  const { mean, ...responseTimeMs } = counts.histogram.summary()
  return {
    totalRequests: counts.total,
    errorCount: counts.errorCount,
    errorRate: counts.total === 0 ? 0 : round(counts.errorCount / counts.total * 100, 2),
    averageResponseTimeMs: mean,
    responseTimeMs,
    inFlight: Math.max(0, counts.inFlight),
    shed: counts.shed,
    aborted: counts.aborted,
    timedOut: counts.timedOut,
    statusCodes,
    endpoints
  }
}

function endpointSnapshot (endpoint: EndpointCounters): EndpointSnapshot {
  const { mean, ...percentiles } = endpoint.combined().summary()
  return { count: endpoint.count, errorCount: endpoint.errorCount, averageResponseTimeMs: mean, ...percentiles }
}
