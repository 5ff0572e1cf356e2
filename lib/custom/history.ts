import { HistogramWindow } from '../histogram.js'
import { Counter } from './counter.js'
import { CustomHistogram } from './histogram.js'
import type { CustomMetric, CustomMetrics } from './registry.js'

/** The span the dashboard charts custom metrics over: one point per sample. */
export const CUSTOM_HISTORY_SPAN_MS = 5 * 60_000
const MAX_POINTS = 3000

/** What each metric's chart plots: a counter's rate, a gauge's value (its series summed), a histogram's p95. */
export type CustomFigure = 'per second' | 'value' | 'p95 ms'

export interface CustomHistoryResponse {
  timestamps: number[]
  series: Record<string, { type: CustomMetric['type'], figure: CustomFigure, values: Array<number | null> }>
}

interface Ring {
  readonly metric: CustomMetric
  readonly values: Float64Array
  /** A counter's total at the last sample. */
  lastTotal: number
  /** The window on a histogram's series together (its running total), which reads what was recorded since the last sample. */
  readonly window: HistogramWindow | null
}

/**
 * One figure per custom metric at every sample over the last five minutes, in fixed rings (8 bytes a point): what
 * the dashboard's "Custom metrics" card charts. A metric registered later has no points before it existed.
 */
export class CustomHistory {
  private readonly timestamps: Float64Array
  private readonly rings = new Map<string, Ring>()
  private head = 0
  private size = 0
  private lastTime: number | null = null

  constructor (private readonly custom: CustomMetrics, sampleIntervalMs: number) {
    this.timestamps = new Float64Array(Math.min(MAX_POINTS, Math.max(2, Math.ceil(CUSTOM_HISTORY_SPAN_MS / sampleIntervalMs))))
  }

  /** Called on the sampling loop. */
  record (now: number): void {
    const elapsedSeconds = this.lastTime === null ? 0 : (now - this.lastTime) / 1000
    this.lastTime = now
    this.timestamps[this.head] = now
    for (const metric of this.custom.all()) {
      const ring = this.rings.get(metric.name) ?? this.add(metric)
      ring.values[this.head] = figureOf(ring, elapsedSeconds) ?? Number.NaN
    }
    this.head = (this.head + 1) % this.timestamps.length
    if (this.size < this.timestamps.length) this.size++
  }

  query (): CustomHistoryResponse {
    const length = this.timestamps.length
    const start = (this.head - this.size + length) % length
    const indexes = Array.from({ length: this.size }, (_, i) => (start + i) % length)
    const series: CustomHistoryResponse['series'] = {}
    for (const [name, ring] of this.rings) {
      series[name] = {
        type: ring.metric.type,
        figure: figureName(ring.metric),
        values: indexes.map((index) => Number.isNaN(ring.values[index]) ? null : ring.values[index]!)
      }
    }
    return { timestamps: indexes.map((index) => this.timestamps[index]!), series }
  }

  private add (metric: CustomMetric): Ring {
    const ring: Ring = {
      metric,
      values: new Float64Array(this.timestamps.length).fill(Number.NaN),
      lastTotal: metric instanceof Counter ? total(metric) : 0,
      window: metric instanceof CustomHistogram ? new HistogramWindow(metric.total) : null
    }
    this.rings.set(metric.name, ring)
    return ring
  }
}

function figureName (metric: CustomMetric): CustomFigure {
  if (metric.type === 'counter') return 'per second'
  return metric.type === 'gauge' ? 'value' : 'p95 ms'
}

function figureOf (ring: Ring, elapsedSeconds: number): number | null {
  const { metric } = ring
  if (metric instanceof Counter) {
    const now = total(metric)
    const rate = elapsedSeconds > 0 ? Math.round((now - ring.lastTotal) / elapsedSeconds * 1000) / 1000 : null
    ring.lastTotal = now
    return rate
  }
  if (metric instanceof CustomHistogram) {
    const since = ring.window!.advance()
    return since.count === 0 ? null : since.quantiles([0.95])[0]!
  }
  let sum: number | null = null
  for (const { value } of metric.values()) if (value.value !== null) sum = (sum ?? 0) + value.value
  return sum
}

function total (counter: Counter): number {
  let sum = 0
  for (const { value } of counter.values()) sum += value.value
  return sum
}
