import { FST_SERVER_WATCH_INVALID_METRIC } from '../errors.js'

/** What a record names its series with: `{ method: 'card', region: 'eu' }`. */
export type Labels = Readonly<Record<string, string | number | boolean>>

/** The label value of every label of the one series that all label sets past a cap share. */
export const OVERFLOW_LABEL = '(other)'
/**
 * The label that marks the overflow series (`series_overflow="true"`), and that no metric may declare: a real label
 * set whose values read "(other)" stays a series of its own, never merged with or duplicating the overflow.
 */
export const OVERFLOW_MARK = 'series_overflow'
export const DEFAULT_MAX_SERIES = 100

/** What the snapshot gives of a histogram series (lib/schemas/custom.ts). */
export interface HistogramFigures {
  labels: Readonly<Record<string, string>>
  count: number
  sum: number
  p50: number | null
  p95: number | null
  p99: number | null
  max: number | null
}

export interface Series<T> {
  readonly labels: Readonly<Record<string, string>>
  readonly value: T
  /**
   * What the exposition keeps for this series (lib/custom/prometheus.ts), for one style: its label text, and its
   * lines as last encoded with the state they were written at.
   */
  rendered?: { style: object, labels: string, state: number, bytes: Buffer | null }
  /** A histogram series' figures in the snapshot, with the count they were read at (lib/custom/registry.ts). */
  summary?: { count: number, figures: HistogramFigures }
}

/**
 * The budget of series shared by every custom metric (`maxCustomSeries`): a metric's new label set takes one, and
 * past it records into the metric's overflow series.
 */
export interface SeriesBudget {
  used: number
  readonly max: number
  /** Called when a label set is refused for the budget (logged once by the registry). */
  exhausted (metric: string): void
}

export interface SeriesOptions {
  /** The budget shared by every custom metric; none: only `maxSeries` bounds the metric. */
  budget?: SeriesBudget | null
  /** Called when a label set past `maxSeries` goes to the overflow series (logged once by the registry). */
  onOverflow?: () => void
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({})
const SEPARATOR = '\u0000'

/** The text Prometheus sees for a value: numbers and booleans as strings, a missing label as "" (the same series). */
const spell = (value: string | number | boolean | undefined): string => typeof value === 'string' ? value : String(value ?? '')
/** A value in a key of several: the separator inside a value is escaped, so the parts of a key are unambiguous. */
const escapeKeyPart = (value: string): string =>
  value.includes('\\') || value.includes(SEPARATOR) ? value.replaceAll('\\', '\\\\').replaceAll(SEPARATOR, '\\0') : value

/**
 * The label sets of one metric, capped like the endpoints: past `maxSeries` distinct sets (or past the budget
 * shared by every custom metric), every new set records into one overflow series, marked `series_overflow="true"`,
 * so the memory is bounded and the overflow is visible. A label set has one key however its values are spelt: a
 * missing label and an empty one, 1 and "1", are one series, as in Prometheus; values are escaped into the key, so
 * no two label sets share one whatever characters they hold. A single string label is its own key (no string built).
 */
export class LabelledSeries<T> {
  private readonly byKey = new Map<string, Series<T>>()
  private overflow: Series<T> | null = null
  /** The key of the label set with every value empty: the unlabelled series. */
  private readonly emptyKey: string
  private readonly empty: Series<T>
  private readonly budget: SeriesBudget | null
  private readonly onOverflow: () => void

  constructor (
    private readonly metric: string,
    readonly labelNames: readonly string[],
    private readonly maxSeries: number,
    private readonly create: () => T,
    readonly unlabelled: T,
    { budget = null, onOverflow = () => {} }: SeriesOptions = {}
  ) {
    this.budget = budget
    this.onOverflow = onOverflow
    this.empty = { labels: NO_LABELS, value: unlabelled }
    this.emptyKey = labelNames.length <= 1 ? '' : SEPARATOR.repeat(labelNames.length - 1)
  }

  get (labels: Labels): T {
    // A metric without labels has one series: labels passed to it must be `{}`.
    if (this.labelNames.length === 0) {
      for (const name in labels) this.refuse(name)
      return this.unlabelled
    }
    const key = this.keyOf(labels)
    if (key === this.emptyKey) {
      this.checkNames(labels)
      return this.unlabelled
    }
    const found = this.byKey.get(key)
    if (found !== undefined) return found.value
    return this.add(key, labels)
  }

  /** The labels of the series a record with `labels` went to (after `get`): its own, or the overflow's. */
  labelsOf (labels: Labels): Readonly<Record<string, string>> {
    if (this.labelNames.length === 0) return NO_LABELS
    const key = this.keyOf(labels)
    if (key === this.emptyKey) return NO_LABELS
    return this.byKey.get(key)?.labels ?? this.overflow?.labels ?? NO_LABELS
  }

  /**
   * Every series, in the order first recorded, the overflow last; the unlabelled one first when `withEmpty` (for a
   * labelled metric, once it recorded: the metric says).
   */
  all (withEmpty: boolean): Array<Series<T>> {
    const all = withEmpty ? [this.empty] : []
    for (const series of this.byKey.values()) all.push(series)
    if (this.overflow !== null) all.push(this.overflow)
    return all
  }

  /** Label sets held, the overflow included (the unlabelled one is the metric's own and takes no budget). */
  get size (): number {
    return this.byKey.size + (this.overflow === null ? 0 : 1)
  }

  private refuse (name: string): never {
    const declared = this.labelNames.length === 0 ? 'none' : this.labelNames.join(', ')
    throw new FST_SERVER_WATCH_INVALID_METRIC(this.metric, `has no label "${name}" (its labelNames: ${declared})`)
  }

  private keyOf (labels: Labels): string {
    const names = this.labelNames
    if (names.length === 1) return spell(labels[names[0]!])
    let key = escapeKeyPart(spell(labels[names[0]!]))
    for (let i = 1; i < names.length; i++) key += SEPARATOR + escapeKeyPart(spell(labels[names[i]!]))
    return key
  }

  private checkNames (labels: Labels): void {
    if (typeof labels !== 'object' || labels === null) {
      throw new FST_SERVER_WATCH_INVALID_METRIC(this.metric, `labels must be an object, got ${typeof labels}`)
    }
    for (const name in labels) if (!this.labelNames.includes(name)) this.refuse(name)
  }

  /** A label set not seen before: checked here, once, rather than on every record. */
  private add (key: string, labels: Labels): T {
    this.checkNames(labels)
    if (this.byKey.size >= this.maxSeries || (this.budget !== null && this.budget.used >= this.budget.max)) {
      if (this.budget !== null && this.byKey.size < this.maxSeries) this.budget.exhausted(this.metric)
      else this.onOverflow()
      return this.overflowSeries().value
    }
    const values: Record<string, string> = {}
    for (const name of this.labelNames) values[name] = spell(labels[name])
    const series = { labels: values, value: this.create() }
    this.byKey.set(key, series)
    if (this.budget !== null) this.budget.used++
    return series.value
  }

  private overflowSeries (): Series<T> {
    if (this.overflow === null) {
      const other: Record<string, string> = {}
      for (const name of this.labelNames) other[name] = OVERFLOW_LABEL
      other[OVERFLOW_MARK] = 'true'
      this.overflow = { labels: other, value: this.create() }
    }
    return this.overflow
  }
}
