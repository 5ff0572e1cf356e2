import { FST_SERVER_WATCH_INVALID_OPTION } from './errors.js'

/** `prometheus: { prefix, labels }`: a name prefix and constant labels on every series of /metrics. */
export interface PrometheusOptions {
  /** Put before every metric name: `myapp_` makes `myapp_http_requests_total`. */
  prefix?: string
  /** Added to every series: `{ service: 'checkout', env: 'prod' }`. */
  labels?: Record<string, string>
}

export interface Relabel { prefix: string, labelText: string }

const METRIC_PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
// Label names the plugin's own series use: a constant label of the same name would make a series invalid.
const TAKEN = new Set(['le', 'quantile', 'method', 'route', 'status_class', 'code', 'space', 'kind', 'type', 'check',
  'status', 'alertname', 'severity', 'version', 'fastify_version', 'major', 'minor', 'patch', 'command', 'state',
  'name', 'hostname', 'pid'])

const escapeValue = (value: string) => value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')

/** Checks the option at register time; null when there is nothing to change. */
export function normalizePrometheus (value: unknown): Relabel | null {
  if (value === undefined) return null
  if (typeof value !== 'object' || value === null || Object.getPrototypeOf(value) !== Object.prototype) {
    throw new FST_SERVER_WATCH_INVALID_OPTION('prometheus', '{ prefix?, labels? }', typeof value)
  }
  const { prefix = '', labels = {}, ...rest } = value as PrometheusOptions & Record<string, unknown>
  const unknown = Object.keys(rest)[0]
  if (unknown !== undefined) throw new FST_SERVER_WATCH_INVALID_OPTION(`prometheus.${unknown}`, 'not set (unknown key; known: prefix, labels)', 'a value')
  if (typeof prefix !== 'string' || (prefix !== '' && !METRIC_PREFIX.test(prefix))) {
    throw new FST_SERVER_WATCH_INVALID_OPTION('prometheus.prefix', 'a metric name prefix such as "myapp_" ([a-zA-Z_:][a-zA-Z0-9_:]*)', JSON.stringify(prefix))
  }
  if (typeof labels !== 'object' || labels === null || Object.getPrototypeOf(labels) !== Object.prototype) {
    throw new FST_SERVER_WATCH_INVALID_OPTION('prometheus.labels', 'an object of label names to string values', typeof labels)
  }
  const pairs: string[] = []
  for (const [name, text] of Object.entries(labels)) {
    if (!LABEL_NAME.test(name) || name.startsWith('__') || TAKEN.has(name)) {
      throw new FST_SERVER_WATCH_INVALID_OPTION(`prometheus.labels.${name}`, 'a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with "__") that the plugin\'s own series do not use', JSON.stringify(name))
    }
    if (typeof text !== 'string') throw new FST_SERVER_WATCH_INVALID_OPTION(`prometheus.labels.${name}`, 'a string', typeof text)
    pairs.push(`${name}="${escapeValue(text)}"`)
  }
  if (prefix === '' && pairs.length === 0) return null
  return { prefix, labelText: pairs.join(',') }
}

/**
 * Applies the prefix and the constant labels to a rendered exposition, line by line. Done once per rendering (the
 * text is cached until the next sample), so the writers of each family stay unaware of it.
 */
export function relabel (text: string, { prefix, labelText }: Relabel): string {
  let out = ''
  let start = 0
  while (start < text.length) {
    let end = text.indexOf('\n', start)
    if (end === -1) end = text.length
    const line = text.slice(start, end)
    start = end + 1
    if (line === '') continue
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
      out += `${line.slice(0, 7)}${prefix}${line.slice(7)}\n`
      continue
    }
    if (line.startsWith('#')) {
      out += `${line}\n`
      continue
    }
    const brace = line.indexOf('{')
    const space = line.indexOf(' ')
    if (brace !== -1 && brace < space) {
      const rest = line.slice(brace + 1)
      const joined = labelText === '' ? rest : rest.startsWith('}') ? `${labelText}${rest}` : `${labelText},${rest}`
      out += `${prefix}${line.slice(0, brace)}{${joined}\n`
    } else {
      out += `${prefix}${line.slice(0, space)}${labelText === '' ? '' : `{${labelText}}`}${line.slice(space)}\n`
    }
  }
  return out
}
