import { Histogram } from '../histogram.js'
import { round } from '../format.js'
import type { ApplicationSnapshot, EndpointSnapshot } from '../schemas/health.js'

/** The `statusCodes` key of slot 0: a code outside 100 to 999, so that every counted response has a code. */
export const OTHER_STATUS_KEY = 'other'

/** What one process's store and the fleet's merged counts both hold. */
export interface RequestCounts {
  readonly total: number
  readonly errorCount: number
  readonly shed: number
  readonly aborted: number
  readonly timedOut: number
  /** Indexed by status code, slot 0 for any other value. */
  readonly statusCodes: ArrayLike<number>
  readonly histogram: Histogram
}

export interface EndpointCounts {
  readonly key: string
  readonly count: number
  readonly errorCount: number
  /** Index 1 to 5: durations by status class (1xx to 5xx). */
  readonly byClass: ReadonlyArray<Histogram | undefined>
}

type RequestFigures = Pick<ApplicationSnapshot, 'totalRequests' | 'errorCount' | 'errorRate' | 'averageResponseTimeMs' |
'responseTimeMs' | 'inFlight' | 'shed' | 'aborted' | 'timedOut' | 'statusCodes' | 'endpoints'>

/** The application snapshot's request figures, built the same way for one process and for a fleet. */
export function requestFigures (counts: RequestCounts, inFlight: number, allEndpoints: Iterable<EndpointCounts>): RequestFigures {
  const statusCodes: Record<string, number> = {}
  for (let code = 100; code < counts.statusCodes.length; code++) {
    if (counts.statusCodes[code]! > 0) statusCodes[code] = counts.statusCodes[code]!
  }
  if (counts.statusCodes[0]! > 0) statusCodes[OTHER_STATUS_KEY] = counts.statusCodes[0]!
  const endpoints: Record<string, EndpointSnapshot> = {}
  for (const endpoint of allEndpoints) {
    if (endpoint.count > 0) endpoints[endpoint.key] = endpointSnapshot(endpoint)
  }
  const { mean, ...responseTimeMs } = counts.histogram.summary()
  return {
    totalRequests: counts.total,
    errorCount: counts.errorCount,
    errorRate: counts.total === 0 ? 0 : round(counts.errorCount / counts.total * 100, 2),
    averageResponseTimeMs: mean,
    responseTimeMs,
    inFlight: Math.max(0, inFlight),
    shed: counts.shed,
    aborted: counts.aborted,
    timedOut: counts.timedOut,
    statusCodes,
    endpoints
  }
}

/** The durations of every status class of one route, merged. */
export function combined (endpoint: EndpointCounts): Histogram {
  const all = new Histogram()
  for (const histogram of endpoint.byClass) if (histogram !== undefined) all.add(histogram)
  return all
}

function endpointSnapshot (endpoint: EndpointCounts): EndpointSnapshot {
  const { mean, ...percentiles } = combined(endpoint).summary()
  return { count: endpoint.count, errorCount: endpoint.errorCount, averageResponseTimeMs: mean, ...percentiles }
}
