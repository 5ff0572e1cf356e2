import { FST_SERVER_WATCH_INVALID_METRIC } from '../errors.js'
import { LabelledSeries, type Labels, type Series, type SeriesOptions } from './series.js'

export interface GaugeMetric {
  /** Sets the series of `labels` (none: the unlabelled series) to `value`. */
  set (value: number, labels?: Labels): void
  /** Adds `value` (default 1); a series never set starts from 0. */
  inc (value?: number, labels?: Labels): void
  /** Subtracts `value` (default 1). */
  dec (value?: number, labels?: Labels): void
}

interface Cell { value: number | null }

/**
 * A figure that goes up and down: queue length, cache hit ratio. Either set by the app, or read from `collect` on
 * the sampling loop (never per request); a `collect` that throws or returns no number reads null.
 */
export class Gauge implements GaugeMetric {
  readonly type = 'gauge'
  private readonly unlabelled: Cell = { value: null }
  private readonly series: LabelledSeries<Cell>

  constructor (
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly maxSeries: number,
    readonly collect: (() => number | null) | null,
    options?: SeriesOptions
  ) {
    this.series = new LabelledSeries(name, labelNames, maxSeries, () => ({ value: null }), this.unlabelled, options)
  }

  set (value: number, labels?: Labels): void {
    this.cell(value, labels).value = value
  }

  inc (value = 1, labels?: Labels): void {
    const cell = this.cell(value, labels)
    cell.value = (cell.value ?? 0) + value
  }

  dec (value = 1, labels?: Labels): void {
    const cell = this.cell(value, labels)
    cell.value = (cell.value ?? 0) - value
  }

  /** Called on the sampling loop for a gauge with `collect`. */
  sample (read: () => number | null): void {
    this.unlabelled.value = read()
  }

  private cell (value: number, labels: Labels | undefined): Cell {
    if (typeof value !== 'number') {
      throw new FST_SERVER_WATCH_INVALID_METRIC(this.name, `takes a number, got ${typeof value}`)
    }
    if (this.collect !== null) {
      throw new FST_SERVER_WATCH_INVALID_METRIC(this.name, 'is read from its collect function: set, inc and dec are not available')
    }
    return labels === undefined ? this.unlabelled : this.series.get(labels)
  }

  /** Every series, the unlabelled one first (a labelled gauge's only once it was set). */
  values (): Array<Series<Cell>> {
    return this.series.all(this.labelNames.length === 0 || this.unlabelled.value !== null)
  }

  get seriesCount (): number {
    return this.series.size
  }
}
