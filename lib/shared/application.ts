import { Histogram } from '../histogram.js'
import type { RequestCounters } from '../requests/counts.js'
import { requestFigures } from '../requests/figures.js'
import type { FleetView } from './merge.js'

/**
 * The fleet's request figures in the snapshot's shape: counters added up, percentiles from the merged buckets.
 * `requestsPerSecond` and `inFlight` are the live processes' sum; the rest of the application snapshot (the last
 * minute, the slowest requests) stays the answering process's own.
 */
export function fleetApplication (view: FleetView) {
  return {
    ...requestFigures(view.requests),
    requestsPerSecond: view.gauges.requestsPerSecond,
    recentErrors: view.recentErrors
  }
}

/**
 * The fleet's totals as one stable object that the history's windows can hold on to: refilled in place from each
 * view, so that its histogram is always the same instance.
 */
export class FleetTotals {
  total = 0
  errorCount = 0
  readonly histogram = new Histogram()

  fill (counts: Pick<RequestCounters, 'total' | 'errorCount' | 'histogram'>): void {
    // Never backwards: a window over a histogram that shrank would read negative counts.
    if (counts.total < this.total) return
    this.total = counts.total
    this.errorCount = counts.errorCount
    this.histogram.reset()
    this.histogram.add(counts.histogram)
  }
}
