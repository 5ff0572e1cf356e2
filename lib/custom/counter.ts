import { FST_SERVER_WATCH_INVALID_METRIC } from '../errors.js'
import { LabelledSeries, type Labels, type Series, type SeriesOptions } from './series.js'

export interface CounterMetric {
  /** Adds `value` (default 1, never negative) to the series of `labels` (none: the metric's unlabelled series). */
  inc (value?: number, labels?: Labels): void
}

interface Cell { value: number }

/** A total that only goes up: orders placed, jobs run. Prometheus sees it as `<name>_total`. */
export class Counter implements CounterMetric {
  readonly type = 'counter'
  private readonly unlabelled: Cell = { value: 0 }
  private readonly series: LabelledSeries<Cell>

  constructor (readonly name: string, readonly help: string, readonly labelNames: readonly string[], readonly maxSeries: number, options?: SeriesOptions) {
    this.series = new LabelledSeries(name, labelNames, maxSeries, () => ({ value: 0 }), this.unlabelled, options)
  }

  inc (value = 1, labels?: Labels): void {
    if (!(value >= 0 && value < Infinity)) {
      throw new FST_SERVER_WATCH_INVALID_METRIC(this.name, `inc() takes a finite number >= 0, got ${String(value)}`)
    }
    (labels === undefined ? this.unlabelled : this.series.get(labels)).value += value
  }

  /** Every series with a value, the unlabelled one first (a labelled counter's only once it counted). */
  values (): Array<Series<Cell>> {
    return this.series.all(this.labelNames.length === 0 || this.unlabelled.value > 0)
  }

  get seriesCount (): number {
    return this.series.size
  }
}
