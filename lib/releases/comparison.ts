import { bucketIndex, bucketUpperBound, percentilesOf, type Histogram } from '../histogram.js'
import { round } from '../format.js'
import type { ReleaseComparison, ReleaseSide as ReleaseSideType } from '../schemas/errors.js'

/**
 * Each route before and after a release, and whether it got better or worse (docs/errors-and-releases.md,
 * "How a release is judged"):
 *
 * - `too_few` when either side has fewer than MIN_REQUESTS responses: no verdict from a handful.
 * - The error rate (5xx / responses) changed when a two-proportion z-test (pooled) gives |z| >= Z_CRITICAL
 *   (two-sided, 1 %): with dozens of routes compared at each release, a 5 % test would call one of them changed
 *   by chance every other deploy.
 * - The p95 changed when it moved by more than P95_RELATIVE_CHANGE of the lower figure, and by more than two
 *   histogram buckets at the higher one (the histogram's resolution: below that the figures cannot differ) and
 *   than MIN_LATENCY_CHANGE_MS (a sub-millisecond route that doubles is not news).
 * - `worse` when either changed for the worse; else `better` when either changed for the better; else `same`.
 */
export const MIN_REQUESTS = 50
export const Z_CRITICAL = 2.576
export const P95_RELATIVE_CHANGE = 0.25
export const MIN_LATENCY_CHANGE_MS = 1

export type Verdict = 'better' | 'same' | 'worse' | 'too_few'
export type Judged = 'errorRate' | 'p95Ms'

/** What a route did during one release: its responses, its 5xx, and all their durations. */
export interface EndpointTotals {
  readonly count: number
  readonly errorCount: number
  readonly histogram: Histogram
}

export type ReleaseSide = ReleaseSideType
export type EndpointComparison = ReleaseComparison

const QUANTILES = [0.5, 0.95]

function side (totals: EndpointTotals | undefined): ReleaseSide {
  if (totals === undefined || totals.count === 0) return { requests: 0, errorRate: 0, p50Ms: null, p95Ms: null }
  const [p50, p95] = percentilesOf(totals.histogram, QUANTILES)
  return { requests: totals.count, errorRate: round(totals.errorCount / totals.count * 100, 2), p50Ms: p50!, p95Ms: p95! }
}

/** The z statistic of the change from e1/n1 to e2/n2 (pooled two-proportion test); 0 when neither has an error. */
export function twoProportionZ (e1: number, n1: number, e2: number, n2: number): number {
  const pooled = (e1 + e2) / (n1 + n2)
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
  return se === 0 ? 0 : (e2 / n2 - e1 / n1) / se
}

/** The width of the histogram bucket that holds `valueMs`. */
function bucketWidth (valueMs: number): number {
  const index = bucketIndex(valueMs)
  return bucketUpperBound(index) - bucketUpperBound(index - 1)
}

/** +1 when `after` is a real rise over `before`, -1 for a real fall, 0 otherwise. */
export function latencyChange (before: number, after: number): -1 | 0 | 1 {
  const low = Math.min(before, after)
  const high = Math.max(before, after)
  const enough = high - low > Math.max(low * P95_RELATIVE_CHANGE, 2 * bucketWidth(high), MIN_LATENCY_CHANGE_MS)
  return !enough ? 0 : after > before ? 1 : -1
}

function judge (before: EndpointTotals, after: EndpointTotals, b: ReleaseSide, a: ReleaseSide): Pick<EndpointComparison, 'verdict' | 'changed'> {
  if (b.requests < MIN_REQUESTS || a.requests < MIN_REQUESTS) return { verdict: 'too_few', changed: [] }
  const changed: EndpointComparison['changed'] = []
  const z = twoProportionZ(before.errorCount, before.count, after.errorCount, after.count)
  if (Math.abs(z) >= Z_CRITICAL) changed.push({ figure: 'errorRate', direction: z > 0 ? 'worse' : 'better' })
  const latency = latencyChange(b.p95Ms!, a.p95Ms!)
  if (latency !== 0) changed.push({ figure: 'p95Ms', direction: latency > 0 ? 'worse' : 'better' })
  changed.sort((x, y) => (x.direction === 'worse' ? 0 : 1) - (y.direction === 'worse' ? 0 : 1))
  const verdict = changed.length === 0 ? 'same' : changed[0]!.direction
  return { verdict, changed }
}

const ORDER: Record<Verdict, number> = { worse: 0, better: 1, same: 2, too_few: 3 }

/**
 * Every route seen in either release, the worse first, then the better, the same and those with too few
 * responses; within each, the busier first.
 */
export function compareReleases (before: ReadonlyMap<string, EndpointTotals>, after: ReadonlyMap<string, EndpointTotals>): EndpointComparison[] {
  const keys = new Set([...before.keys(), ...after.keys()])
  const out: EndpointComparison[] = []
  for (const endpoint of keys) {
    const was = before.get(endpoint)
    const is = after.get(endpoint)
    if ((was?.count ?? 0) === 0 && (is?.count ?? 0) === 0) continue
    const b = side(was)
    const a = side(is)
    const { verdict, changed } = was === undefined || is === undefined
      ? { verdict: 'too_few' as const, changed: [] }
      : judge(was, is, b, a)
    out.push({ endpoint, before: b, after: a, verdict, changed })
  }
  return out.sort((x, y) => ORDER[x.verdict] - ORDER[y.verdict] || y.after.requests - x.after.requests || (x.endpoint < y.endpoint ? -1 : 1))
}
