import { FST_SERVER_WATCH_INVALID_METRIC } from '../errors.js'
import { Histogram, bucketIndex } from '../histogram.js'
import { LabelledSeries, type Labels, type Series, type SeriesOptions } from './series.js'

export interface HistogramMetric {
  /** Records a duration in milliseconds into the series of `labels` (none: the unlabelled series). */
  observe (valueMs: number, labels?: Labels): void
}

/**
 * Durations in milliseconds, in the plugin's fixed-bucket histogram (lib/histogram.ts: 722 counters a series, 5%
 * at most off in a percentile): the same cost per record as a request's duration. Prometheus sees seconds.
 */
export class CustomHistogram implements HistogramMetric {
  readonly type = 'histogram'
  private readonly unlabelled = new Histogram()
  private readonly series: LabelledSeries<Histogram>
  /**
   * Every series together, recorded as it goes (a labelled metric records twice): what the dashboard's p95 reads
   * on each sample, without adding up thousands of series on the sampling loop.
   */
  readonly total: Histogram

  constructor (readonly name: string, readonly help: string, readonly labelNames: readonly string[], readonly maxSeries: number, options?: SeriesOptions) {
    this.series = new LabelledSeries(name, labelNames, maxSeries, () => new Histogram(), this.unlabelled, options)
    this.total = labelNames.length === 0 ? this.unlabelled : new Histogram()
  }

  observe (valueMs: number, labels?: Labels): void {
    if (!(valueMs >= 0 && valueMs < Infinity)) {
      throw new FST_SERVER_WATCH_INVALID_METRIC(this.name, `observe() takes a finite number of milliseconds >= 0, got ${String(valueMs)}`)
    }
    const index = bucketIndex(valueMs)
    ;(labels === undefined ? this.unlabelled : this.series.get(labels)).recordAt(index, valueMs)
    if (this.total !== this.unlabelled) this.total.recordAt(index, valueMs)
  }

  /** The labels of the series that `observe(value, labels)` recorded into: its own, or the overflow's past a cap. */
  labelsOf (labels: Labels | undefined): Readonly<Record<string, string>> {
    return this.series.labelsOf(labels ?? {})
  }

  /** Every series, the unlabelled one first (a labelled histogram's only once it recorded). */
  values (): Array<Series<Histogram>> {
    return this.series.all(this.labelNames.length === 0 || this.unlabelled.count > 0)
  }

  get seriesCount (): number {
    return this.series.size
  }
}
