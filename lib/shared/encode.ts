import { BUCKET_COUNT, type Histogram } from '../histogram.js'
import type { EndpointCounters, RequestCounters } from '../requests/counts.js'
import type { EncodedCounts, EncodedHistogram } from './state.js'
import { STATUS_SLOTS, type Tally, type Totals } from './tally.js'

/** Writing a state file's figures (lib/shared/state.ts says the format; it decodes them). */
export function encodeHistogram (histogram: Histogram): EncodedHistogram {
  const out = [histogram.count, round6(histogram.sum), histogram.max]
  const counts = histogram.counts
  let previous = -1
  for (let index = 0; index < BUCKET_COUNT; index++) {
    if (counts[index] === 0) continue
    out.push(index - previous, counts[index]!)
    previous = index
  }
  return out
}

const round6 = (value: number) => Math.round(value * 1e6) / 1e6

/** The totals of `counts` (everything but the routes). */
export function encodeCounts (counts: Totals): EncodedCounts {
  const statusCodes: Record<string, number> = {}
  for (let slot = 0; slot < STATUS_SLOTS; slot++) {
    const n = counts.statusCodes[slot]!
    if (n !== 0) statusCodes[slot] = n
  }
  return {
    total: counts.total,
    errorCount: counts.errorCount,
    aborted: counts.aborted,
    timedOut: counts.timedOut,
    shed: counts.shed,
    statusCodes,
    histogram: encodeHistogram(counts.histogram)
  }
}

/**
 * `own + carried - taken` of one histogram as the text of an EncodedHistogram, or null when empty: the sum is taken
 * bucket by bucket as it is written, with no histogram built. (`taken` never exceeds the other two: see
 * lib/shared/writer.ts's baseline.)
 */
function histogramText (own: Histogram | undefined, carried: Histogram | undefined, taken: Histogram | undefined): string | null {
  const count = (own?.count ?? 0) + (carried?.count ?? 0) - (taken?.count ?? 0)
  if (count <= 0) return null
  const sum = (own?.sum ?? 0) + (carried?.sum ?? 0) - (taken?.sum ?? 0)
  let text = `[${count},${round6(sum)},${Math.max(own?.max ?? 0, carried?.max ?? 0)}`
  const a = own?.counts
  const b = carried?.counts
  const c = taken?.counts
  let previous = -1
  for (let index = 0; index < BUCKET_COUNT; index++) {
    const n = (a === undefined ? 0 : a[index]!) + (b === undefined ? 0 : b[index]!) - (c === undefined ? 0 : c[index]!)
    if (n === 0) continue
    text += `,${index - previous},${n}`
    previous = index
  }
  return `${text}]`
}

/**
 * Writes the routes line: `[[method, route, key, count, errorCount, { class: histogram }], ...]` of `own + carried -
 * taken`. A route whose figures have not changed since the last write reuses its text: on a quiet route, nothing is
 * encoded again.
 */
export class EndpointEncoder {
  private readonly cache = new Map<string, { count: number, version: number, text: string }>()

  encode (own: Pick<RequestCounters, 'allEndpoints'>, carried: Tally, taken: Tally, version: number): string {
    const parts: string[] = []
    const seen = new Set<string>()
    const carriedEmpty = !carried.hasEndpoints() && !taken.hasEndpoints()
    for (const endpoint of own.allEndpoints()) {
      if (endpoint.count === 0 && carriedEmpty) continue
      seen.add(endpoint.key)
      const text = this.text(endpoint, carriedEmpty ? undefined : carried.find(endpoint.key), carriedEmpty ? undefined : taken.find(endpoint.key), version)
      if (text !== '') parts.push(text)
    }
    if (!carriedEmpty) {
      for (const endpoint of carried.allEndpoints()) {
        if (seen.has(endpoint.key) || endpoint.count === 0) continue
        seen.add(endpoint.key)
        const text = this.text(undefined, endpoint, taken.find(endpoint.key), version, endpoint)
        if (text !== '') parts.push(text)
      }
    }
    for (const key of this.cache.keys()) if (!seen.has(key)) this.cache.delete(key)
    return `[${parts.join(',')}]`
  }

  /** The route's entry, or '' when it has nothing to count. */
  private text (own: EndpointCounters | undefined, carried: EndpointCounters | undefined, taken: EndpointCounters | undefined, version: number, named = own ?? carried!): string {
    const ownCount = own?.count ?? 0
    const cached = this.cache.get(named.key)
    if (cached !== undefined && cached.count === ownCount && cached.version === version) return cached.text
    const count = ownCount + (carried?.count ?? 0) - (taken?.count ?? 0)
    let text = ''
    if (count > 0) {
      const errorCount = (own?.errorCount ?? 0) + (carried?.errorCount ?? 0) - (taken?.errorCount ?? 0)
      const classes: string[] = []
      for (let statusClass = 1; statusClass <= 5; statusClass++) {
        const histogram = histogramText(own?.byClass[statusClass], carried?.byClass[statusClass], taken?.byClass[statusClass])
        if (histogram !== null) classes.push(`"${statusClass}":${histogram}`)
      }
      text = `[${JSON.stringify(named.method)},${JSON.stringify(named.route)},${JSON.stringify(named.key)},${count},${errorCount},{${classes.join(',')}}]`
    }
    this.cache.set(named.key, { count: ownCount, version, text })
    return text
  }
}
