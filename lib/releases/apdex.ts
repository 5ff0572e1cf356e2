import { bucketIndex, type Histogram } from '../histogram.js'
import { round } from '../format.js'
import type { ApdexFigures, ApdexSnapshot } from '../schemas/errors.js'

/**
 * Apdex (apdex.org): (satisfied + tolerating / 2) / all, where a response is satisfied within T, tolerating
 * within 4T, frustrated beyond; a 5xx response is frustrated whatever its time (the Apdex rule for errors). Read
 * from the fixed-bucket histograms the request store already keeps, bucket by bucket: a bucket counts as
 * satisfied (tolerating) when it lies wholly below T (4T). T and 4T on a bucket edge (any value of two
 * significant digits: 500 ms, 2 s) are then exact for every value but one equal to T or 4T.
 */
export const DEFAULT_APDEX_THRESHOLD_MS = 500

export type { ApdexFigures }

/** The duration histograms of a route (or of every route) by status class: index 1 to 5 for 1xx to 5xx. */
export interface ByClass { readonly byClass: ReadonlyArray<Histogram | undefined> }

export type Apdex = ApdexSnapshot

/** Counts of one set of classes, added into `into`. */
function addInto (into: ApdexFigures, { byClass }: ByClass, satisfiedBelow: number, toleratedBelow: number): void {
  for (let statusClass = 1; statusClass < byClass.length; statusClass++) {
    const histogram = byClass[statusClass]
    if (histogram === undefined || histogram.count === 0) continue
    if (statusClass === 5) {
      into.frustrated += histogram.count
      continue
    }
    let satisfied = 0
    let tolerating = 0
    const counts = histogram.counts
    for (let index = 0; index < toleratedBelow; index++) {
      if (index < satisfiedBelow) satisfied += counts[index]!
      else tolerating += counts[index]!
    }
    into.satisfied += satisfied
    into.tolerating += tolerating
    into.frustrated += histogram.count - satisfied - tolerating
  }
}

function score (figures: ApdexFigures): ApdexFigures {
  const total = figures.satisfied + figures.tolerating + figures.frustrated
  figures.score = total === 0 ? null : round((figures.satisfied + figures.tolerating / 2) / total, 2)
  return figures
}

const empty = (): ApdexFigures => ({ score: null, satisfied: 0, tolerating: 0, frustrated: 0 })

/** The Apdex of one route. */
export function apdexOf (route: ByClass, thresholdMs: number): ApdexFigures {
  const figures = empty()
  addInto(figures, route, bucketIndex(thresholdMs), bucketIndex(4 * thresholdMs))
  return score(figures)
}

/** The Apdex of every route with a response, and of all of them together (the `apdex` of the snapshot). */
export function apdex (routes: Iterable<ByClass & { readonly key: string, readonly count: number }>, thresholdMs: number): Apdex {
  const satisfiedBelow = bucketIndex(thresholdMs)
  const toleratedBelow = bucketIndex(4 * thresholdMs)
  const overall = empty()
  const endpoints: Record<string, ApdexFigures> = {}
  for (const route of routes) {
    if (route.count === 0) continue
    const figures = empty()
    addInto(figures, route, satisfiedBelow, toleratedBelow)
    endpoints[route.key] = score(figures)
    overall.satisfied += figures.satisfied
    overall.tolerating += figures.tolerating
    overall.frustrated += figures.frustrated
  }
  return { thresholdMs, ...score(overall), endpoints }
}
