/**
 * The one writer of the Prometheus text exposition (format 0.0.4): every family, the plugin's and the app's custom
 * metrics, is written through it, so escaping, number formatting, HELP/TYPE lines, the name prefix and the constant
 * labels are done in one place. A family is written only once it has a sample: a family whose values are all
 * missing writes nothing, not even its HELP line.
 */
import type { Histogram } from '../histogram.js'
import { msToSeconds } from './buckets.js'

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

/** A label name, per the data model. */
export const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** Label values escape backslash, double quote and newline. */
export function escapeLabelValue (value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/[\\"\n]/g, (c) => c === '\n' ? '\\n' : `\\${c}`) : value
}

/** HELP text escapes backslash and newline. */
export function escapeHelp (text: string): string {
  return /[\\\n]/.test(text) ? text.replace(/[\\\n]/g, (c) => c === '\n' ? '\\n' : '\\\\') : text
}

/** `a="x",b="y"` (no braces) from names and their values, values escaped; '' when there are none. */
export function labelPairs (names: readonly string[], values: readonly string[]): string {
  let text = ''
  for (let i = 0; i < names.length; i++) text += `${i === 0 ? '' : ','}${names[i]}="${escapeLabelValue(values[i]!)}"`
  return text
}

/** `{a="x",b="y"}` from pairs, values escaped; '' when there are none. */
export function labels (...pairs: Array<[string, string]>): string {
  if (pairs.length === 0) return ''
  return `{${labelPairs(pairs.map(([name]) => name), pairs.map(([, value]) => value))}}`
}

/**
 * A sample value as the text format reads it: integers exactly; other numbers at 15 significant digits, the most a
 * double keeps for any decimal, printed in their shortest form, so that unit conversions print 0.024321 rather
 * than 0.024321000000000002 and the printed value still parses back to the number (and to the same float in Go).
 */
export function formatValue (value: number): string {
  if (Number.isInteger(value)) return String(value)
  if (Number.isNaN(value)) return 'NaN'
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf'
  return String(Number(value.toPrecision(15)))
}

/** What every line of one exposition gets: a name prefix and constant labels (the `prometheus` option). */
export interface ExpositionStyle {
  readonly prefix: string
  /** The constant labels, already written as `a="x",b="y"` ('' for none). */
  readonly constantLabels: string
}

export const PLAIN_STYLE: ExpositionStyle = { prefix: '', constantLabels: '' }

export interface FamilyHead {
  readonly name: string
  readonly type: MetricType
  readonly help: string
}

export class Exposition {
  private text = ''
  private pending: string | null = null
  private name = ''

  constructor (readonly style: ExpositionStyle = PLAIN_STYLE) {}

  /** Starts a family: its HELP and TYPE lines are written with its first sample. */
  begin ({ name, type, help }: FamilyHead): void {
    this.name = `${this.style.prefix}${name}`
    this.pending = `# HELP ${this.name} ${escapeHelp(help)}\n# TYPE ${this.name} ${type}\n`
  }

  /** One sample of the current family; `labelText` is `a="x"` without braces ('' for none). Null writes nothing. */
  sample (labelText: string, value: number | null | undefined, suffix = ''): void {
    if (value === null || value === undefined) return
    this.line(suffix, labelText, formatValue(value))
  }

  /**
   * One histogram series from a fine millisecond histogram, in seconds: the cumulative count at each bound (every
   * bound an edge of the fine buckets, so exact), read in one pass up to the largest.
   */
  histogram (labelText: string, histogram: Histogram, bounds: readonly number[], indexes: readonly number[]): void {
    const counts = histogram.counts
    const le = labelText === '' ? 'le="' : `${labelText},le="`
    let cumulative = 0
    let index = 0
    for (let i = 0; i < bounds.length; i++) {
      for (const last = indexes[i]!; index <= last; index++) cumulative += counts[index]!
      this.line('_bucket', `${le}${formatValue(bounds[i]!)}"`, String(cumulative))
    }
    this.line('_bucket', `${le}+Inf"`, String(histogram.count))
    this.line('_sum', labelText, formatValue(msToSeconds(histogram.sum)))
    this.line('_count', labelText, String(histogram.count))
  }

  /**
   * The start of a sample line of the current family, up to the space before the value: for a caller that writes
   * the same series again and again and keeps its lines' starts (lib/custom/prometheus.ts).
   */
  lineStart (suffix: string, labelText: string): string {
    const { constantLabels } = this.style
    const all = constantLabels === '' ? labelText : labelText === '' ? constantLabels : `${constantLabels},${labelText}`
    return `${this.name}${suffix}${all === '' ? '' : `{${all}}`} `
  }

  /** Text written elsewhere with the same style (a cached series): it belongs to the current family. */
  append (text: string): void {
    if (text === '') return
    this.flushHead()
    this.text += text
  }

  /** Writes the current family's HELP and TYPE lines now, if not yet written: its samples follow from elsewhere. */
  open (): void {
    this.flushHead()
  }

  toString (): string {
    return this.text
  }

  /** The text written so far, taken out (for a caller that encodes it slice by slice). */
  drain (): string {
    const text = this.text
    this.text = ''
    return text
  }

  private flushHead (): void {
    if (this.pending === null) return
    this.text += this.pending
    this.pending = null
  }

  private line (suffix: string, labelText: string, value: string): void {
    this.flushHead()
    this.text += `${this.lineStart(suffix, labelText)}${value}\n`
  }
}
