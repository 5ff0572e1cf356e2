import type { Histogram } from '../histogram.js'
import { HTTP_BOUND_INDEXES, HTTP_DURATION_BOUNDS, msToSeconds } from '../prometheus/buckets.js'
import { formatValue, labelPairs, type Exposition } from '../prometheus/text.js'
import { exposedNames, type CustomMetric, type CustomMetrics } from './registry.js'
import type { Series } from './series.js'

/** Series written between two turns of the event loop when encoding for a scrape (encodeCustomMetrics). */
const SERIES_PER_TURN = 250
const LE_VALUES = [...HTTP_DURATION_BOUNDS.map(formatValue), '+Inf']

/**
 * The app's own metrics in the text exposition, through the one writer: a counter as `<name>_total`, a gauge under
 * its name (left out while it has no value), a histogram in seconds with the buckets of http_request_duration_seconds.
 *
 * Built for the caps (1,000 metrics, 10,000 series; benchmark/README.md, "Custom metrics at their caps"): each
 * series keeps its label text (escaped once) and its lines as last encoded, with the state they were written at
 * (a value, a histogram's count), so an unchanged series costs one Buffer in the list. The encoded lines live
 * outside the JavaScript heap: thousands of cached strings made every major GC long. Yields every SERIES_PER_TURN
 * series, so that a scrape never holds the event loop for all of them.
 */
function * customParts (out: Exposition, custom: CustomMetrics, parts: Array<string | Buffer>): Generator<void> {
  let written = 0
  for (const metric of custom.all()) {
    out.begin({ name: exposedNames(metric.type, metric.name)[0]!, type: metric.type, help: metric.help })
    let opened = false
    const add = (bytes: Buffer): void => {
      if (!opened) {
        out.open()
        parts.push(out.drain())
        opened = true
      }
      parts.push(bytes)
    }
    if (metric.type === 'histogram') {
      for (const series of metric.values()) {
        add(histogramBytes(out, series))
        if (++written % SERIES_PER_TURN === 0) yield
      }
      continue
    }
    for (const series of (metric as Exclude<CustomMetric, { type: 'histogram' }>).values()) {
      const value = series.value.value
      if (value === null) continue
      const rendered = cache(out, series)
      if (rendered.bytes === null || !Object.is(rendered.state, value)) {
        rendered.state = value
        rendered.bytes = Buffer.from(`${out.lineStart('', rendered.labels)}${formatValue(value)}\n`)
      }
      add(rendered.bytes)
      if (++written % SERIES_PER_TURN === 0) yield
    }
  }
}

/** All at once, as text (tests, and callers that need the text now). */
export function renderCustomMetrics (out: Exposition, custom: CustomMetrics): void {
  const parts: Array<string | Buffer> = []
  const lines = customParts(out, custom, parts)
  while (lines.next().done !== true);
  out.append(parts.map(String).join(''))
}

/**
 * For a scrape: encoded slice by slice, the event loop turning between slices so that other requests are served
 * meanwhile; no step encodes or holds the whole text as one string (7 MB at the caps).
 */
export async function encodeCustomMetrics (out: Exposition, custom: CustomMetrics, chunks: Buffer[]): Promise<void> {
  const parts: Array<string | Buffer> = []
  const flush = () => {
    for (const part of parts) if (part.length > 0) chunks.push(typeof part === 'string' ? Buffer.from(part) : part)
    parts.length = 0
  }
  const lines = customParts(out, custom, parts)
  while (lines.next().done !== true) {
    flush()
    await new Promise((resolve) => setImmediate(resolve))
  }
  flush()
}

type Rendered = NonNullable<Series<unknown>['rendered']>

/** The series' cache, made again when the style changed. */
function cache (out: Exposition, series: Series<unknown>): Rendered {
  let rendered = series.rendered
  if (rendered === undefined || rendered.style !== out.style) {
    rendered = { style: out.style, labels: labelPairs(Object.keys(series.labels), Object.values(series.labels)), state: Number.NaN, bytes: null }
    series.rendered = rendered
  }
  return rendered
}

/** One histogram series in seconds: the cumulative count at each bound, read in one pass over the fine buckets. */
function histogramBytes (out: Exposition, series: Series<Histogram>): Buffer {
  const histogram = series.value
  const rendered = cache(out, series)
  if (rendered.bytes !== null && rendered.state === histogram.count) return rendered.bytes
  const labels = rendered.labels
  const le = labels === '' ? 'le="' : `${labels},le="`
  const counts = histogram.counts
  let text = ''
  let cumulative = 0
  let index = 0
  for (let i = 0; i < HTTP_BOUND_INDEXES.length; i++) {
    for (const last = HTTP_BOUND_INDEXES[i]!; index <= last; index++) cumulative += counts[index]!
    text += `${out.lineStart('_bucket', `${le}${LE_VALUES[i]}"`)}${cumulative}\n`
  }
  text += `${out.lineStart('_bucket', `${le}+Inf"`)}${histogram.count}\n`
  text += `${out.lineStart('_sum', labels)}${formatValue(msToSeconds(histogram.sum))}\n${out.lineStart('_count', labels)}${histogram.count}\n`
  rendered.state = histogram.count
  rendered.bytes = Buffer.from(text)
  return rendered.bytes
}
