import { OptionGroup, isPlainObject, show, type KnownKeys } from '../options/validate.js'
import { LABEL_NAME, escapeLabelValue, type ExpositionStyle } from './text.js'

/** `prometheus: { prefix, labels, statusCode }`. */
export interface PrometheusOptions {
  /** Put before every metric name: `myapp_` makes `myapp_http_requests_total`. */
  prefix?: string
  /** Added to every series: `{ service: 'checkout', env: 'prod' }`. */
  labels?: Record<string, string>
  /** Adds `status_code` to http_request_duration_seconds (one series per code an endpoint answered with). Default false. */
  statusCode?: boolean
}

export interface NormalizedPrometheus extends ExpositionStyle {
  /** The constant labels' names: a custom metric may not use them. */
  readonly labelNames: readonly string[]
  readonly statusCode: boolean
}

const KEYS = { prefix: true, labels: true, statusCode: true } satisfies KnownKeys<PrometheusOptions>
export const NO_RELABELING: NormalizedPrometheus = { prefix: '', constantLabels: '', labelNames: [], statusCode: false }

/**
 * Checks the option at register time. `reserved` is the label names the plugin's families write (derived from
 * them, lib/prometheus/index.ts): a constant label of one of those names would make a series carry it twice.
 */
export function normalizePrometheus (value: unknown, reserved: ReadonlySet<string>): NormalizedPrometheus {
  if (value === undefined) return NO_RELABELING
  const group = OptionGroup.of(value, 'prometheus', KEYS, '{ prefix?, labels?, statusCode? }')
  // Every name is prefix + a valid name, so the prefix alone must be one ("myapp_"); no ":" (recording rules' own).
  const prefix = group.string('prefix', '', /^(?:[a-zA-Z_][a-zA-Z0-9_]*)?$/, 'a metric name prefix such as "myapp_" ([a-zA-Z_][a-zA-Z0-9_]*, no ":")')
  const labels = group.values.labels ?? {}
  if (!isPlainObject(labels)) return group.fail('labels', 'an object of label names to string values')
  const names: string[] = []
  const pairs: string[] = []
  for (const [name, text] of Object.entries(labels)) {
    const path = `labels.${name}`
    if (!LABEL_NAME.test(name) || name.startsWith('__')) {
      group.fail(path, 'a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__")', JSON.stringify(name))
    }
    if (reserved.has(name)) {
      group.fail(path, `a label name that the plugin's own series do not use (they use ${[...reserved].sort().join(', ')})`, JSON.stringify(name))
    }
    if (typeof text !== 'string') group.fail(path, 'a string', show(text))
    names.push(name)
    pairs.push(`${name}="${escapeLabelValue(text as string)}"`)
  }
  return { prefix, constantLabels: pairs.join(','), labelNames: Object.freeze(names), statusCode: group.boolean('statusCode', false) }
}
