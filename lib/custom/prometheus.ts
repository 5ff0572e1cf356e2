import { HTTP_BOUND_INDEXES, HTTP_DURATION_BOUNDS } from '../prometheus/buckets.js'
import { labelPairs, type Exposition } from '../prometheus/text.js'
import { exposedNames, type CustomMetric, type CustomMetrics } from './registry.js'
import type { Series } from './series.js'

/**
 * The app's own metrics in the text exposition, through the one writer: a counter as `<name>_total`, a gauge under
 * its name (left out while it has no value), a histogram in seconds with the buckets of http_request_duration_seconds.
 *
 * Incremental: each series keeps the text last written for it with the state it was written at (a counter's or
 * gauge's value, a histogram's count), and a series that did not change since is not written again. At the caps
 * (10,000 histogram series) this is what keeps a rendering short (benchmark/README.md, "Custom metrics at their caps").
 */
export function renderCustomMetrics (out: Exposition, custom: CustomMetrics): void {
  for (const metric of custom.all()) {
    out.begin({ name: exposedNames(metric.type, metric.name)[0]!, type: metric.type, help: metric.help })
    if (metric.type === 'histogram') {
      for (const series of metric.values()) {
        const histogram = series.value
        out.append(cached(out, series, histogram.count, (fork, labels) => fork.histogram(labels, histogram, HTTP_DURATION_BOUNDS, HTTP_BOUND_INDEXES)))
      }
      continue
    }
    for (const series of (metric as Exclude<CustomMetric, { type: 'histogram' }>).values()) {
      const value = series.value.value
      if (value === null) continue
      out.append(cached(out, series, value, (fork, labels) => fork.sample(labels, value)))
    }
  }
}

/** The series' text, written again only when its state changed (or the style did: a fork carries it). */
function cached<T> (out: Exposition, series: Series<T>, state: number, write: (fork: Exposition, labels: string) => void): string {
  const rendered = series.rendered
  if (rendered !== undefined && rendered.state === state && rendered.style === out.style) return rendered.text
  const fork = out.fork()
  write(fork, labelPairs(Object.keys(series.labels), Object.values(series.labels)))
  const text = fork.toString()
  series.rendered = { state, style: out.style, text }
  return text
}
