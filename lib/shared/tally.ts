import { BUCKET_COUNT, Histogram } from '../histogram.js'
import type { EndpointCounts, RequestCounts } from '../requests/figures.js'

/**
 * The additive part of a process's request figures: counters, status codes and the fixed-bucket histograms, which
 * add (and subtract) bucket by bucket, so the fleet's percentiles are exact to the histogram's precision, never an
 * average of percentiles. One shape serves the live request store (read), the folded "retired" total, and the
 * fleet's sum.
 */
export interface CountsEndpoint extends EndpointCounts {
  readonly method: string
  readonly route: string
}

export interface Counts extends RequestCounts {
  allEndpoints (): readonly CountsEndpoint[]
}

export const STATUS_SLOTS = 1000

export class TallyEndpoint implements CountsEndpoint {
  count = 0
  errorCount = 0
  readonly byClass: Array<Histogram | undefined> = [undefined, undefined, undefined, undefined, undefined, undefined]
  constructor (readonly method: string, readonly route: string, readonly key: string) {}

  /** Every class together: what the snapshot's percentiles read. */
  combined (): Histogram {
    const all = new Histogram()
    for (const histogram of this.byClass) if (histogram !== undefined) all.add(histogram)
    return all
  }
}

/** `sign` -1 subtracts: what a process already handed over once (see SharedState's baseline) is taken back out. */
export function addHistogram (target: Histogram, source: Histogram, sign: 1 | -1 = 1): void {
  if (sign === 1) {
    target.add(source)
    return
  }
  for (let index = 0; index < BUCKET_COUNT; index++) target.counts[index]! -= source.counts[index]!
  target.count -= source.count
  target.sum -= source.sum
}

export class Tally implements Counts {
  total = 0
  errorCount = 0
  aborted = 0
  timedOut = 0
  shed = 0
  // Float64: a fleet's sum over months may pass the 4 billion of a Uint32.
  readonly statusCodes = new Float64Array(STATUS_SLOTS)
  readonly histogram = new Histogram()
  readonly endpoints = new Map<string, TallyEndpoint>()

  /** Past `maxRoutes` distinct keys, the rest of a sum shares one overflow endpoint (as each process does). */
  constructor (private readonly maxRoutes = Infinity, private readonly overflowKey = '(other routes)') {}

  allEndpoints (): TallyEndpoint[] {
    return [...this.endpoints.values()]
  }

  endpoint (method: string, route: string, key: string): TallyEndpoint {
    let endpoint = this.endpoints.get(key)
    if (endpoint === undefined) {
      if (this.endpoints.size >= this.maxRoutes && key !== this.overflowKey) return this.endpoint('*', this.overflowKey, this.overflowKey)
      endpoint = new TallyEndpoint(method, route, key)
      this.endpoints.set(key, endpoint)
    }
    return endpoint
  }

  add (source: Counts, sign: 1 | -1 = 1): this {
    this.addTotals(source, sign)
    for (const from of source.allEndpoints()) {
      if (from.count === 0) continue
      const to = this.endpoint(from.method, from.route, from.key)
      to.count += sign * from.count
      to.errorCount += sign * from.errorCount
      for (let statusClass = 1; statusClass <= 5; statusClass++) {
        const histogram = from.byClass[statusClass]
        if (histogram !== undefined) addHistogram(to.byClass[statusClass] ??= new Histogram(), histogram, sign)
      }
    }
    return this
  }

  /** Everything but the endpoints: what every sample merges (the endpoints are merged only when read). */
  addTotals (source: Omit<Counts, 'allEndpoints'>, sign: 1 | -1 = 1): this {
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

  reset (): void {
    this.total = this.errorCount = this.aborted = this.timedOut = this.shed = 0
    this.statusCodes.fill(0)
    this.histogram.reset()
    this.endpoints.clear()
  }

  isEmpty (): boolean {
    return this.total === 0 && this.aborted === 0 && this.timedOut === 0 && this.shed === 0
  }
}
