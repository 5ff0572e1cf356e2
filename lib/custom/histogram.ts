import { FST_SERVER_WATCH_INVALID_METRIC } from '../errors.js'
import { Histogram } from '../histogram.js'
import { LabelledSeries, type Labels, type Series } from './series.js'

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

  constructor (readonly name: string, readonly help: string, readonly labelNames: readonly string[], readonly maxSeries: number) {
    this.series = new LabelledSeries(name, labelNames, maxSeries, () => new Histogram(), this.unlabelled)
  }

  observe (valueMs: number, labels?: Labels): void {
    if (!(valueMs >= 0 && valueMs < Infinity)) {
      throw new FST_SERVER_WATCH_INVALID_METRIC(this.name, `observe() takes a finite number of milliseconds >= 0, got ${String(valueMs)}`)
    }
    (labels === undefined ? this.unlabelled : this.series.get(labels)).record(valueMs)
  }

  /** The labels of the series that `observe(value, labels)` recorded into: the capped ones, "(other)" past the cap. */
  labelsOf (labels: Labels | undefined): Readonly<Record<string, string>> {
    return this.series.labelsOf(labels ?? {})
  }

  /** Every series, the unlabelled one first (a labelled histogram's only once it recorded). */
  values (): Array<Series<Histogram>> {
    if (this.labelNames.length === 0) return this.series.all()
    const all = this.series.all()
    return this.unlabelled.count > 0 ? [{ labels: {}, value: this.unlabelled }, ...all] : all
  }
}
