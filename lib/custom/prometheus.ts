import type { Histogram } from '../histogram.js'
import { HTTP_DURATION_BOUNDS, boundIndexes, escapeHelp, escapeLabelValue } from '../prometheus.js'
import { exposedNames, type CustomMetrics } from './registry.js'

const BOUND_INDEXES = boundIndexes(HTTP_DURATION_BOUNDS)

function labelText (labels: Readonly<Record<string, string>>): string {
  let text = ''
  for (const name in labels) text += `${text === '' ? '' : ','}${name}="${escapeLabelValue(labels[name]!)}"`
  return text
}

/**
 * The app's own metrics in the text exposition: a counter as `<name>_total`, a gauge under its name (left out
 * while it has no value), a histogram in seconds with the buckets of http_request_duration_seconds.
 */
export function renderCustomMetrics (custom: CustomMetrics): string {
  let out = ''
  for (const metric of custom.all()) {
    const name = exposedNames(metric.type, metric.name)[0]!
    const head = `# HELP ${name} ${escapeHelp(metric.help)}\n# TYPE ${name} ${metric.type}\n`
    if (metric.type === 'histogram') {
      const series = metric.values()
      if (series.length === 0) continue
      out += head
      for (const { labels, value } of series) out += histogramLines(name, labelText(labels), value)
      continue
    }
    let lines = ''
    for (const { labels, value } of metric.values()) {
      if (value.value === null) continue
      const text = labelText(labels)
      lines += `${name}${text === '' ? '' : `{${text}}`} ${value.value}\n`
    }
    if (lines !== '') out += head + lines
  }
  return out
}

/** One histogram series in seconds: cumulative counts at each bound, read in one pass over the fine buckets. */
function histogramLines (name: string, labels: string, histogram: Histogram): string {
  const prefix = labels === '' ? '' : `${labels},`
  const braces = labels === '' ? '' : `{${labels}}`
  const counts = histogram.counts
  let text = ''
  let cumulative = 0
  let index = 0
  for (let i = 0; i < HTTP_DURATION_BOUNDS.length; i++) {
    for (const last = BOUND_INDEXES[i]!; index <= last; index++) cumulative += counts[index]!
    text += `${name}_bucket{${prefix}le="${HTTP_DURATION_BOUNDS[i]}"} ${cumulative}\n`
  }
  text += `${name}_bucket{${prefix}le="+Inf"} ${histogram.count}\n`
  text += `${name}_sum${braces} ${histogram.sum / 1000}\n`
  text += `${name}_count${braces} ${histogram.count}\n`
  return text
}
