import { FST_SERVER_WATCH_INVALID_METRIC } from '../errors.js'

/** What a record names its series with: `{ method: 'card', region: 'eu' }`. */
export type Labels = Readonly<Record<string, string | number | boolean>>

/** The label value of every label of the one series that all label sets past the cap share. */
export const OVERFLOW_LABEL = '(other)'
export const DEFAULT_MAX_SERIES = 100

export interface Series<T> {
  readonly labels: Readonly<Record<string, string>>
  readonly value: T
}

const SEPARATOR = '\u0001'
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({})

/**
 * The label sets of one metric, capped like the endpoints: past `maxSeries` distinct sets, every new set records
 * into one overflow series whose labels all read "(other)", so the memory is bounded and the overflow is visible.
 * A record with labels builds one key string (none for a single label whose value is a string); the map lookup
 * then finds its series.
 */
export class LabelledSeries<T> {
  private readonly byKey = new Map<string, Series<T>>()
  private overflow: Series<T> | null = null

  constructor (
    private readonly metric: string,
    readonly labelNames: readonly string[],
    private readonly maxSeries: number,
    private readonly create: () => T,
    private readonly unlabelled: T
  ) {
    if (labelNames.length === 0) this.byKey.set('', { labels: {}, value: unlabelled })
  }

  get (labels: Labels): T {
    // A metric without labels has one series: labels passed to it must be `{}`.
    if (this.labelNames.length === 0) {
      for (const name in labels) this.refuse(name)
      return this.unlabelled
    }
    const key = this.keyOf(labels)
    const found = this.byKey.get(key)
    if (found !== undefined) return found.value
    return this.add(key, labels)
  }

  /** The labels of the series a record with `labels` went to (after `get`): its own, or the overflow's. */
  labelsOf (labels: Labels): Readonly<Record<string, string>> {
    if (this.labelNames.length === 0) return NO_LABELS
    return this.byKey.get(this.keyOf(labels))?.labels ?? this.overflow?.labels ?? NO_LABELS
  }

  /** Every series, in the order first recorded, the overflow last. */
  all (): Array<Series<T>> {
    const all = [...this.byKey.values()]
    if (this.overflow !== null) all.push(this.overflow)
    return all
  }

  private refuse (name: string): never {
    const declared = this.labelNames.length === 0 ? 'none' : this.labelNames.join(', ')
    throw new FST_SERVER_WATCH_INVALID_METRIC(this.metric, `has no label "${name}" (its labelNames: ${declared})`)
  }

  private keyOf (labels: Labels): string {
    const names = this.labelNames
    if (names.length === 1) {
      const value = labels[names[0]!]
      return typeof value === 'string' ? value : String(value ?? '')
    }
    let key = ''
    for (let i = 0; i < names.length; i++) {
      if (i > 0) key += SEPARATOR
      key += String(labels[names[i]!] ?? '')
    }
    return key
  }

  /** A label set not seen before: checked here, once, rather than on every record. */
  private add (key: string, labels: Labels): T {
    if (typeof labels !== 'object' || labels === null) {
      throw new FST_SERVER_WATCH_INVALID_METRIC(this.metric, `labels must be an object, got ${typeof labels}`)
    }
    for (const name of Object.keys(labels)) {
      if (!this.labelNames.includes(name)) this.refuse(name)
    }
    if (this.byKey.size >= this.maxSeries) {
      if (this.overflow === null) {
        const other: Record<string, string> = {}
        for (const name of this.labelNames) other[name] = OVERFLOW_LABEL
        this.overflow = { labels: other, value: this.create() }
      }
      return this.overflow.value
    }
    const values: Record<string, string> = {}
    for (const name of this.labelNames) values[name] = String(labels[name] ?? '')
    const series = { labels: values, value: this.create() }
    this.byKey.set(key, series)
    return series.value
  }
}
