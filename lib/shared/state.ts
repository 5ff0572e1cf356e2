import { BUCKET_COUNT, Histogram } from '../histogram.js'
import { STATUS_SLOTS, Tally, type Counts } from './tally.js'

/**
 * What one process writes into the shared directory once per sample, as JSON. Compact: histograms keep only their
 * non-empty buckets, status codes only those seen. `counts` are cumulative (the process's own requests plus what
 * it has folded from dead processes), so a newer file always supersedes an older one of the same process.
 */
export const FORMAT = 'fastify-server-watch/shared'
/** Bumped on any change a reader of the previous version would misread: files of another version are ignored. */
export const FORMAT_VERSION = 1

export type Status = 'healthy' | 'degraded' | 'unhealthy'

/** `[count, sum, max, index, n, index, n, ...]`: the non-empty buckets only. */
export type EncodedHistogram = number[]
/** `[method, route, key, count, errorCount, { statusClass: histogram }]` */
export type EncodedEndpoint = [string, string, string, number, number, Record<string, EncodedHistogram>]

export interface EncodedCounts {
  total: number
  errorCount: number
  aborted: number
  timedOut: number
  shed: number
  statusCodes: Record<string, number>
  histogram: EncodedHistogram
  endpoints: EncodedEndpoint[]
}

/** A process's sampled figures: its own, never folded, summed over live processes only. */
export interface Gauges {
  inFlight: number
  requestsPerSecond: number
  rss: number | null
  heapUsed: number | null
  heapTotal: number | null
  external: number | null
  cpuProcessPercent: number | null
  eventLoopDelayP99Ms: number | null
  eventLoopUtilization: number | null
}
export const GAUGE_NAMES: ReadonlyArray<keyof Gauges> = [
  'inFlight', 'requestsPerSecond', 'rss', 'heapUsed', 'heapTotal', 'external', 'cpuProcessPercent', 'eventLoopDelayP99Ms',
  'eventLoopUtilization'
]

export interface Identity {
  /** `host_pid_start_generation`: unique per incarnation of a process (see SharedState's generation). */
  id: string
  pid: number
  hostname: string
  /** PM2's `pm_id` or `node:cluster`'s worker id, when there is one. */
  workerId: string | null
  startedAt: number
}

export interface ProcessState extends Identity {
  format: typeof FORMAT
  version: number
  app: string
  writtenAt: number
  status: Status
  /** This process's own requests (not what it folded): the per-process table. */
  own: { totalRequests: number, errorCount: number, p95Ms: number | null }
  gauges: Gauges
  counts: EncodedCounts
  /** Newest first, at most maxRecentErrors: merged across live processes by time. */
  recentErrors: unknown[]
  /** Ids of the dead processes folded into `counts` whose claim files may still exist (see lib/shared/fold.ts). */
  absorbed: string[]
}

export function encodeHistogram (histogram: Histogram): EncodedHistogram {
  const out = [histogram.count, round6(histogram.sum), histogram.max]
  const counts = histogram.counts
  for (let index = 0; index < BUCKET_COUNT; index++) {
    if (counts[index] !== 0) out.push(index, counts[index]!)
  }
  return out
}

const round6 = (value: number) => Math.round(value * 1e6) / 1e6

export function encodeCounts (counts: Counts): EncodedCounts {
  const statusCodes: Record<string, number> = {}
  for (let slot = 0; slot < STATUS_SLOTS; slot++) {
    const n = counts.statusCodes[slot]!
    if (n !== 0) statusCodes[slot] = n
  }
  const endpoints: EncodedEndpoint[] = []
  for (const endpoint of counts.allEndpoints()) {
    if (endpoint.count === 0) continue
    const byClass: Record<string, EncodedHistogram> = {}
    for (let statusClass = 1; statusClass <= 5; statusClass++) {
      const histogram = endpoint.byClass[statusClass]
      if (histogram !== undefined && histogram.count !== 0) byClass[statusClass] = encodeHistogram(histogram)
    }
    endpoints.push([endpoint.method, endpoint.route, endpoint.key, endpoint.count, endpoint.errorCount, byClass])
  }
  return {
    total: counts.total,
    errorCount: counts.errorCount,
    aborted: counts.aborted,
    timedOut: counts.timedOut,
    shed: counts.shed,
    statusCodes,
    histogram: encodeHistogram(counts.histogram),
    endpoints
  }
}

/** Why a file was refused, for its one warning. */
export class StateError extends Error {}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0
const isNumberOrNull = (value: unknown) => value === null || (typeof value === 'number' && Number.isFinite(value))

function decodeHistogram (encoded: unknown, where: string): Histogram {
  if (!Array.isArray(encoded) || encoded.length < 3 || encoded.length % 2 === 0) throw new StateError(`${where}: not a histogram`)
  const histogram = new Histogram()
  const [count, sum, max] = encoded as number[]
  if (!isCount(count) || !isCount(sum) || !isCount(max)) throw new StateError(`${where}: bad count, sum or max`)
  let seen = 0
  for (let i = 3; i < encoded.length; i += 2) {
    const index = encoded[i] as number
    const n = encoded[i + 1] as number
    if (!Number.isInteger(index) || index < 0 || index >= BUCKET_COUNT || !isCount(n)) throw new StateError(`${where}: bad bucket`)
    histogram.counts[index] = n
    seen += n
  }
  if (seen !== count) throw new StateError(`${where}: buckets add up to ${seen}, not ${count}`)
  histogram.count = count
  histogram.sum = sum
  histogram.max = max
  return histogram
}

/** The counts of a state file as a Tally, checked as they are read: a bad number refuses the whole file. */
export function decodeCounts (encoded: EncodedCounts): Tally {
  const tally = new Tally()
  if (typeof encoded !== 'object' || encoded === null) throw new StateError('no counts')
  for (const name of ['total', 'errorCount', 'aborted', 'timedOut', 'shed'] as const) {
    if (!isCount(encoded[name])) throw new StateError(`counts.${name} is not a count`)
    tally[name] = encoded[name]
  }
  if (typeof encoded.statusCodes !== 'object' || encoded.statusCodes === null) throw new StateError('no status codes')
  for (const [code, n] of Object.entries(encoded.statusCodes)) {
    const slot = Number(code)
    if (!Number.isInteger(slot) || slot < 0 || slot >= STATUS_SLOTS || !isCount(n)) throw new StateError(`bad status code ${code}`)
    tally.statusCodes[slot] = n
  }
  const histogram = decodeHistogram(encoded.histogram, 'counts.histogram')
  tally.histogram.add(histogram)
  if (!Array.isArray(encoded.endpoints)) throw new StateError('no endpoints')
  for (const entry of encoded.endpoints) {
    if (!Array.isArray(entry) || entry.length !== 6) throw new StateError('bad endpoint')
    const [method, route, key, count, errorCount, byClass] = entry
    if (typeof method !== 'string' || typeof route !== 'string' || typeof key !== 'string' || !isCount(count) || !isCount(errorCount) ||
      typeof byClass !== 'object' || byClass === null) throw new StateError('bad endpoint')
    const endpoint = tally.endpoint(method, route, key)
    endpoint.count += count
    endpoint.errorCount += errorCount
    for (const [statusClass, hist] of Object.entries(byClass)) {
      const slot = Number(statusClass)
      if (!Number.isInteger(slot) || slot < 1 || slot > 5) throw new StateError(`bad status class ${statusClass}`)
      const decoded = decodeHistogram(hist, `endpoint ${key}`)
      const into = endpoint.byClass[slot]
      if (into === undefined) endpoint.byClass[slot] = decoded
      else into.add(decoded)
    }
  }
  return tally
}

export type DecodeResult =
  | { ok: true, state: ProcessState, counts: Tally }
  | { ok: false, reason: string, version?: number }

/**
 * A file's text as a state of app `app`, or why not: corrupt or truncated JSON, another program's file, another app,
 * another version of the format. Never throws.
 */
export function decodeState (text: string, app: string): DecodeResult {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return { ok: false, reason: text.length === 0 ? 'empty file' : 'not JSON (corrupt or truncated)' }
  }
  const state = parsed as ProcessState
  if (typeof parsed !== 'object' || parsed === null || state.format !== FORMAT) return { ok: false, reason: 'not a fastify-server-watch state file' }
  if (state.version !== FORMAT_VERSION) return { ok: false, reason: `format version ${String(state.version)}, this version reads ${FORMAT_VERSION}`, version: Number(state.version) }
  if (state.app !== app) return { ok: false, reason: `written by app "${String(state.app)}", not "${app}"` }
  try {
    if (typeof state.id !== 'string' || !Number.isInteger(state.pid) || typeof state.hostname !== 'string' ||
      !isCount(state.startedAt) || !isCount(state.writtenAt)) throw new StateError('bad identity')
    if (state.status !== 'healthy' && state.status !== 'degraded' && state.status !== 'unhealthy') throw new StateError('bad status')
    if (typeof state.gauges !== 'object' || state.gauges === null) throw new StateError('no gauges')
    for (const name of GAUGE_NAMES) if (!isNumberOrNull(state.gauges[name])) throw new StateError(`bad gauge ${name}`)
    if (typeof state.own !== 'object' || state.own === null || !isCount(state.own.totalRequests)) throw new StateError('bad own figures')
    if (!Array.isArray(state.absorbed) || !state.absorbed.every((id) => typeof id === 'string')) throw new StateError('bad absorbed list')
    if (!Array.isArray(state.recentErrors)) throw new StateError('bad recent errors')
    return { ok: true, state, counts: decodeCounts(state.counts) }
  } catch (error) {
    return { ok: false, reason: error instanceof StateError ? error.message : 'malformed' }
  }
}
