import { Histogram } from '../histogram.js'
import type { RequestCounters } from '../requests/counts.js'
import { addHistogram, EndpointTable, type Endpoint } from '../requests/endpoint.js'

/** The additive totals of request counters: what every sample merges (the endpoints are merged only when read). */
export type Totals = Pick<RequestCounters, 'total' | 'errorCount' | 'aborted' | 'timedOut' | 'shed' | 'statusCodes' | 'histogram'>

/** Slots of a status-code array: 100 to 999, and 0 for any other value (lib/requests/store.ts statusSlot). */
export const STATUS_SLOTS = 1000

/**
 * The additive part of request counters: counters, status codes and the fixed-bucket histograms, which add (and
 * subtract) bucket by bucket, so the fleet's percentiles are exact to the histogram's precision, never an average of
 * percentiles. It holds what a process folded from dead ones ("retired"), what it already handed over (its
 * "baseline"), a decoded state file, and the fleet's sum; past `maxRoutes`, routes share the overflow endpoint, as
 * in each process.
 */
export class Tally implements Totals {
  total = 0
  errorCount = 0
  aborted = 0
  timedOut = 0
  shed = 0
  // Float64: a fleet's sum over months may pass the 4 billion of a Uint32.
  readonly statusCodes = new Float64Array(STATUS_SLOTS)
  readonly histogram = new Histogram()
  private readonly table: EndpointTable

  constructor (maxRoutes = Infinity) {
    this.table = new EndpointTable(maxRoutes)
  }

  allEndpoints (): Endpoint[] {
    return this.table.all()
  }

  /** The endpoint of `key`, created (or the overflow, past maxRoutes) for adding into. */
  endpoint (method: string, route: string, key: string): Endpoint {
    return this.table.endpointFor(method, route, key)
  }

  /** The endpoint of `key` if it has one. */
  find (key: string): Endpoint | undefined {
    return this.table.find(key)
  }

  /** Whether any endpoint has counts (the not-found and overflow ones included). */
  hasEndpoints (): boolean {
    return this.table.byKey.size > 0 || this.table.notFound.count !== 0 || this.table.overflow.count !== 0
  }

  addTotals (source: Totals, sign: 1 | -1 = 1): this {
    this.total += sign * source.total
    this.errorCount += sign * source.errorCount
    this.aborted += sign * source.aborted
    this.timedOut += sign * source.timedOut
    this.shed += sign * source.shed
    const codes = source.statusCodes
    for (let slot = 0; slot < STATUS_SLOTS; slot++) {
      if (codes[slot]! !== 0) this.statusCodes[slot]! += sign * codes[slot]!
    }
    addHistogram(this.histogram, source.histogram, sign)
    return this
  }

  isEmpty (): boolean {
    return this.total === 0 && this.aborted === 0 && this.timedOut === 0 && this.shed === 0
  }
}
