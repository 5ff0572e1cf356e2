import { FST_SERVER_WATCH_INVALID_METRIC } from '../errors.js'
import { failureLogger } from '../collectors/types.js'
import type { CustomMetricSnapshot, CustomMetricsSnapshot } from '../schemas/custom.js'
import { Counter, type CounterMetric } from './counter.js'
import { Gauge, type GaugeMetric } from './gauge.js'
import { CustomHistogram, type HistogramMetric } from './histogram.js'
import { DEFAULT_MAX_SERIES, OVERFLOW_MARK, type SeriesBudget, type SeriesOptions } from './series.js'

export interface MetricOptions {
  /** The HELP text in /metrics and the `help` field in /health. */
  help?: string
  /** The labels a record may name; every label set is one series, at most `maxSeries` of them. */
  labelNames?: readonly string[]
  /**
   * Distinct label sets kept; the rest share one series whose labels read "(other)", marked `series_overflow="true"`.
   * Default 100.
   */
  maxSeries?: number
}

export interface GaugeOptions extends MetricOptions {
  /** Read on the sampling loop instead of set by the app; no labels. A throw logs once and reads null. */
  collect?: () => number | null
}

export type CustomMetric = Counter | Gauge | CustomHistogram

/** Custom metrics a process may register (`maxCustomMetrics`): each one costs memory and a family in every scrape. */
export const DEFAULT_MAX_CUSTOM_METRICS = 1000
/**
 * Series across every custom metric (`maxCustomSeries`): a histogram series holds 722 counters (2.9 kB) and writes
 * 16 lines in /metrics. At 10,000 histogram series a scrape is 7.5 MB and GC pauses grow (benchmark/README.md).
 */
export const DEFAULT_MAX_CUSTOM_SERIES = 2000

export interface CustomMetricsOptions {
  maxMetrics?: number
  maxSeries?: number
  /** The `prometheus.labels` names: a metric's label of the same name would make its series carry it twice. */
  constantLabels?: readonly string[]
}

const NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
/** The plugin's own families start with these (lib/prometheus/families/); a custom metric may not take them. */
export const RESERVED_PREFIXES = ['server_watch_', 'http_', 'process_', 'nodejs_', 'system_', 'mongodb_']
const OPTION_NAMES: Record<CustomMetric['type'], string[]> = {
  counter: ['help', 'labelNames', 'maxSeries'],
  gauge: ['help', 'labelNames', 'maxSeries', 'collect'],
  histogram: ['help', 'labelNames', 'maxSeries']
}

/** The sample names a metric takes in /metrics: two metrics may not share one. */
export function exposedNames (type: CustomMetric['type'], name: string): string[] {
  if (type === 'counter') return [name.endsWith('_total') ? name : `${name}_total`]
  if (type === 'histogram') return [name, `${name}_bucket`, `${name}_sum`, `${name}_count`]
  return [name]
}

interface Normalized { help: string, labelNames: readonly string[], maxSeries: number, collect: (() => number | null) | null }

/**
 * The app's own metrics. A name registers once: asking again for the same type with the same options returns the
 * same metric (so a module may declare it wherever it is used, like prom-client's getSingleMetric); with another
 * type or other options it throws.
 */
export class CustomMetrics {
  private readonly metrics = new Map<string, CustomMetric>()
  private readonly exposed = new Set<string>()
  private readonly collectors: Array<{ gauge: Gauge, failures: ReturnType<typeof failureLogger> }> = []
  private readonly listeners = new Set<(metric: CustomMetric) => void>()
  readonly maxMetrics: number
  private readonly constantLabels: readonly string[]
  private readonly budget: SeriesBudget
  private budgetLogged = false

  constructor (private readonly log: { warn: (obj: object, msg: string) => void }, options: CustomMetricsOptions = {}) {
    this.maxMetrics = options.maxMetrics ?? DEFAULT_MAX_CUSTOM_METRICS
    this.constantLabels = options.constantLabels ?? []
    this.budget = {
      used: 0,
      max: options.maxSeries ?? DEFAULT_MAX_CUSTOM_SERIES,
      exhausted: (metric) => {
        if (this.budgetLogged) return
        this.budgetLogged = true
        this.log.warn({ metric, maxCustomSeries: this.budget.max },
          `server-watch: custom metrics hold ${this.budget.max} series (maxCustomSeries): new label sets now record into each metric's overflow series (series_overflow="true")`)
      }
    }
  }

  readonly counter = (name: string, options?: MetricOptions): CounterMetric => this.register('counter', name, options, (o, series) =>
    new Counter(name, o.help, o.labelNames, o.maxSeries, series))

  readonly gauge = (name: string, options?: GaugeOptions): GaugeMetric => this.register('gauge', name, options, (o, series) =>
    new Gauge(name, o.help, o.labelNames, o.maxSeries, o.collect, series))

  readonly histogram = (name: string, options?: MetricOptions): HistogramMetric => this.register('histogram', name, options, (o, series) =>
    new CustomHistogram(name, o.help, o.labelNames, o.maxSeries, series))

  /** Series held by every custom metric together (each metric's unlabelled one aside): at most `maxCustomSeries`. */
  get seriesCount (): number {
    return this.budget.used
  }

  /** Every metric, in the order registered. */
  all (): CustomMetric[] {
    return [...this.metrics.values()]
  }

  /** Calls `listener` with every metric registered so far and each one registered later; returns the unsubscribe. */
  onRegister (listener: (metric: CustomMetric) => void): () => void {
    for (const metric of this.metrics.values()) listener(metric)
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  get size (): number {
    return this.metrics.size
  }

  /** On the sampling loop: reads every `collect` gauge. A throw, or something not a number, reads null. */
  sample (): void {
    for (const { gauge, failures } of this.collectors) {
      gauge.sample(() => {
        try {
          const value = gauge.collect!()
          if (typeof value !== 'number' && value !== null) throw new TypeError(`collect returned ${typeof value}, not a number`)
          failures.recovered()
          return value
        } catch (error) {
          failures.failed(error)
          return null
        }
      })
    }
  }

  snapshot (): CustomMetricsSnapshot {
    const snapshot: CustomMetricsSnapshot = {}
    for (const metric of this.metrics.values()) snapshot[metric.name] = metricSnapshot(metric)
    return snapshot
  }

  private register<T extends CustomMetric> (type: T['type'], name: string, raw: unknown, create: (options: Normalized, series: SeriesOptions) => T): T {
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new FST_SERVER_WATCH_INVALID_METRIC(String(name), `is not a valid name (letters, digits and "_", not starting with a digit): ${type}`)
    }
    const options = normalize(type, name, raw)
    const existing = this.metrics.get(name)
    if (existing !== undefined) {
      if (existing.type === type && sameOptions(existing, options)) return existing as T
      throw new FST_SERVER_WATCH_INVALID_METRIC(name, existing.type === type
        ? `is already registered as a ${type} with other options`
        : `is already registered as a ${existing.type}`)
    }
    if (this.metrics.size >= this.maxMetrics) {
      throw new FST_SERVER_WATCH_INVALID_METRIC(name, `would be custom metric number ${this.maxMetrics + 1}: at most ${this.maxMetrics} may be registered (the maxCustomMetrics option)`)
    }
    const constant = options.labelNames.find((label) => this.constantLabels.includes(label))
    if (constant !== undefined) {
      throw new FST_SERVER_WATCH_INVALID_METRIC(name, `has a label "${constant}", which prometheus.labels already adds to every series: a series would carry it twice`)
    }
    const reserved = RESERVED_PREFIXES.find((prefix) => name.startsWith(prefix))
    if (reserved !== undefined) throw new FST_SERVER_WATCH_INVALID_METRIC(name, `may not start with "${reserved}": the plugin's own metrics do`)
    const names = exposedNames(type, name)
    const clash = names.find((exposed) => this.exposed.has(exposed))
    if (clash !== undefined) throw new FST_SERVER_WATCH_INVALID_METRIC(name, `would write "${clash}" in /metrics, which another custom metric writes`)
    let overflowLogged = false
    const metric = create(options, {
      budget: this.budget,
      onOverflow: () => {
        if (overflowLogged) return
        overflowLogged = true
        this.log.warn({ metric: name, maxSeries: options.maxSeries },
          `server-watch: custom metric "${name}" has ${options.maxSeries} series (its maxSeries): new label sets now record into its overflow series (series_overflow="true")`)
      }
    })
    for (const exposed of names) this.exposed.add(exposed)
    this.metrics.set(name, metric)
    if (metric instanceof Gauge && metric.collect !== null) {
      this.collectors.push({ gauge: metric, failures: failureLogger(this.log, `the collect function of custom gauge "${name}"`) })
    }
    for (const listener of this.listeners) listener(metric)
    return metric
  }
}

function normalize (type: CustomMetric['type'], name: string, raw: unknown): Normalized {
  if (raw === undefined) return { help: defaultHelp(type, name), labelNames: [], maxSeries: DEFAULT_MAX_SERIES, collect: null }
  if (typeof raw !== 'object' || raw === null) throw new FST_SERVER_WATCH_INVALID_METRIC(name, `options must be an object, got ${typeof raw}`)
  const options = raw as Record<string, unknown>
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES[type].includes(key)) {
      throw new FST_SERVER_WATCH_INVALID_METRIC(name, `has an unknown option "${key}" (a ${type} takes ${OPTION_NAMES[type].join(', ')})`)
    }
  }
  const { help, labelNames = [], maxSeries = DEFAULT_MAX_SERIES, collect } = options
  if (help !== undefined && (typeof help !== 'string' || help.length > 1024)) {
    throw new FST_SERVER_WATCH_INVALID_METRIC(name, '"help" must be a string of at most 1024 characters')
  }
  if (!Array.isArray(labelNames)) throw new FST_SERVER_WATCH_INVALID_METRIC(name, '"labelNames" must be an array of strings')
  for (const [i, label] of labelNames.entries()) {
    if (typeof label !== 'string' || !NAME.test(label) || label.startsWith('__')) {
      throw new FST_SERVER_WATCH_INVALID_METRIC(name, `has an invalid label name ${JSON.stringify(label)} (letters, digits and "_", not starting with a digit or "__")`)
    }
    if (type === 'histogram' && label === 'le') throw new FST_SERVER_WATCH_INVALID_METRIC(name, 'may not have a label "le": Prometheus histograms use it')
    if (label === OVERFLOW_MARK) throw new FST_SERVER_WATCH_INVALID_METRIC(name, `may not have a label "${OVERFLOW_MARK}": it marks the overflow series`)
    if (labelNames.indexOf(label) !== i) throw new FST_SERVER_WATCH_INVALID_METRIC(name, `names the label "${label}" twice`)
  }
  if (typeof maxSeries !== 'number' || !Number.isInteger(maxSeries) || maxSeries < 1 || maxSeries > 10_000) {
    throw new FST_SERVER_WATCH_INVALID_METRIC(name, '"maxSeries" must be an integer from 1 to 10000')
  }
  if (collect !== undefined && typeof collect !== 'function') throw new FST_SERVER_WATCH_INVALID_METRIC(name, '"collect" must be a function')
  if (collect !== undefined && labelNames.length > 0) throw new FST_SERVER_WATCH_INVALID_METRIC(name, 'has a collect function, which reads one unlabelled value: no labelNames')
  return {
    help: help ?? defaultHelp(type, name),
    labelNames: Object.freeze([...labelNames as string[]]),
    maxSeries,
    collect: (collect as (() => number | null) | undefined) ?? null
  }
}

const defaultHelp = (type: string, name: string) => `Custom ${type} ${name}`

function sameOptions (metric: CustomMetric, options: Normalized): boolean {
  return metric.help === options.help &&
    metric.labelNames.length === options.labelNames.length &&
    metric.labelNames.every((label, i) => label === options.labelNames[i]) &&
    metric.maxSeries === options.maxSeries &&
    (metric instanceof Gauge ? metric.collect : null) === options.collect
}

function metricSnapshot (metric: CustomMetric): CustomMetricSnapshot {
  if (metric instanceof CustomHistogram) {
    return {
      type: 'histogram',
      help: metric.help,
      // A series' figures are kept with the count they were read at: an unchanged series is not read again.
      values: metric.values().map((series) => {
        const { labels, value } = series
        if (series.summary?.count === value.count) return series.summary.figures
        const { mean: _mean, ...percentiles } = value.summary()
        const figures = { labels, count: value.count, sum: Math.round(value.sum * 1e3) / 1e3, ...percentiles }
        series.summary = { count: value.count, figures }
        return figures
      })
    }
  }
  return {
    type: metric.type,
    help: metric.help,
    values: metric.values().map(({ labels, value }) => ({ labels, value: value.value }))
  } as CustomMetricSnapshot
}
