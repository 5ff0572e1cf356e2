/**
 * The Prometheus text exposition of what the plugin knows, written at scrape time from the read model: nothing is
 * added to the request path, and nothing is collected here. Each family declares its labels and whether it
 * describes the process or the fleet (./family.ts); shared mode writes the fleet's set, a single process its own.
 */
import type { CustomMetrics } from '../custom/registry.js'
import { encodeCustomMetrics, renderCustomMetrics } from '../custom/prometheus.js'
import { OVERFLOW_MARK } from '../custom/series.js'
import { writeFamilies, type Family } from './family.js'
import { FLEET_FAMILIES } from './families/fleet.js'
import { HTTP_FAMILIES } from './families/http.js'
import { INFO_FAMILIES } from './families/info.js'
import { MONGO_FAMILIES } from './families/mongo.js'
import { PROCESS_FAMILIES } from './families/process.js'
import { SYSTEM_FAMILIES } from './families/system.js'
import { ERROR_GROUP_FAMILIES } from '../error-groups/prometheus.js'
import { BREAKDOWN_FAMILIES } from '../breakdown/prometheus.js'
import type { MetricsRead } from './read.js'
import { Exposition, PLAIN_STYLE, type ExpositionStyle } from './text.js'

export const FAMILIES: ReadonlyArray<Family<MetricsRead>> = [
  ...INFO_FAMILIES, ...HTTP_FAMILIES, ...PROCESS_FAMILIES, ...FLEET_FAMILIES, ...SYSTEM_FAMILIES, ...MONGO_FAMILIES,
  ...ERROR_GROUP_FAMILIES, ...BREAKDOWN_FAMILIES
]

/**
 * Label names that a constant label (or a custom metric's label, beside the constant ones) may not take: every
 * label the plugin's families write, derived from their declarations; `le` and `quantile`, which histograms and
 * summaries add; and the mark of a custom metric's overflow series.
 */
export const RESERVED_LABEL_NAMES: ReadonlySet<string> = new Set(['le', 'quantile', OVERFLOW_MARK, ...FAMILIES.flatMap((family) => family.labels)])

/** The whole exposition: the fleet's families when `read.fleet` is given (shared mode), else this process's. */
export function renderMetrics (read: MetricsRead, style: ExpositionStyle = PLAIN_STYLE, custom: CustomMetrics | null = null): string {
  const out = new Exposition(style)
  writeFamilies(out, FAMILIES, read, read.fleet === null ? 'process' : 'fleet')
  if (custom !== null) renderCustomMetrics(out, custom)
  return out.toString()
}

/**
 * The same, encoded, for a scrape: the plugin's families at once, then the custom metrics in slices between which
 * the event loop turns (lib/custom/prometheus.ts).
 */
export async function encodeMetrics (read: MetricsRead, style: ExpositionStyle, custom: CustomMetrics): Promise<Buffer> {
  const out = new Exposition(style)
  writeFamilies(out, FAMILIES, read, read.fleet === null ? 'process' : 'fleet')
  const chunks = [Buffer.from(out.drain())]
  await encodeCustomMetrics(out, custom, chunks)
  return Buffer.concat(chunks)
}

export { PROMETHEUS_CONTENT_TYPE, escapeHelp, escapeLabelValue, formatValue, labels, type ExpositionStyle } from './text.js'
export { GC_DURATION_BOUNDS, HTTP_DURATION_BOUNDS, boundIndexes, msToSeconds } from './buckets.js'
export type { MetricsRead } from './read.js'
