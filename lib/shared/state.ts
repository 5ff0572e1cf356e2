import { BUCKET_COUNT, Histogram } from '../histogram.js'
import type { RecentError } from '../schemas/health.js'
import { isHealthStatus, type HealthStatus } from '../status.js'
import { STATUS_SLOTS, Tally } from './tally.js'

/**
 * What one process writes into the shared directory once per sample: two lines of JSON. The first, a few kB, is what
 * every process reads on every sample (identity, status, gauges, the totals and the all-routes histogram); the
 * second, the per-route histograms (tens of kB at 200 routes), is parsed only when a reader asks for the routes.
 * Compact: histograms keep only their non-empty buckets, status codes only those seen. Counts are cumulative (the
 * process's own requests plus what it has folded from dead processes), so a newer file supersedes an older one.
 */
export const FORMAT = 'fastify-server-watch/shared'
/** Bumped on any change a reader of the previous version would misread: files of another version are ignored. */
export const FORMAT_VERSION = 1

/**
 * `[count, sum, max, gap, n, gap, n, ...]`: the non-empty buckets only, each by its distance from the one before
 * (the first from -1), which keeps most of them to one digit: a fifth off the file at 200 routes.
 */
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
  /** `host_pid_start_generation`: unique per incarnation of a process (lib/shared/liveness.ts). */
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
  status: HealthStatus
  /**
   * The full path of the main script (null when unknown): two apps whose scripts share a name share a default
   * `shared.name`, which the store tells from this (lib/shared/merge.ts). Absent from older files.
   */
  main?: string | null
  /** Whether this process (or one it folded) counts timeouts: the fleet does if any process does. */
  countsTimeouts?: boolean
  /** This process's own requests (not what it folded): the per-process table. */
  own: { totalRequests: number, errorCount: number, p95Ms: number | null }
  gauges: Gauges
  counts: EncodedCounts
  /** Newest first, at most maxRecentErrors: merged across live processes by time. */
  recentErrors: unknown[]
  /** Ids of the dead processes folded into `counts` whose claim files may still exist (lib/shared/fold.ts). */
  absorbed: string[]
}

/** Why a file was refused, for its one warning. */
export class StateError extends Error {}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0
const isNumberOrNull = (value: unknown) => value === null || (typeof value === 'number' && Number.isFinite(value))
/** Within what a Date can hold: a row's ISO time never throws. */
const isTime = (value: unknown): value is number => isCount(value) && value <= 8.64e15
/** The most maxRecentErrors allows: a file with more is not ours, and would be sorted on every sample. */
const MAX_RECENT_ERRORS = 1000

/** A recent error of a file, with its own fields only (they reach the snapshot as they are). */
function recentError (value: unknown): RecentError {
  const error = value as RecentError
  if (typeof value !== 'object' || value === null || typeof error.timestamp !== 'string' || typeof error.method !== 'string' ||
    typeof error.route !== 'string' || typeof error.path !== 'string' || !Number.isInteger(error.statusCode) ||
    typeof error.message !== 'string' || (error.code !== undefined && typeof error.code !== 'string')) throw new StateError('bad recent error')
  const { timestamp, method, route, path, statusCode, message, code } = error
  return code === undefined ? { timestamp, method, route, path, statusCode, message } : { timestamp, method, route, path, statusCode, message, code }
}

/** Adds an encoded histogram into `target`, bucket by bucket, after checking all of it. */
function addEncoded (target: Histogram, encoded: unknown, where: string): void {
  checkEncoded(encoded, where)
  applyEncoded(target, encoded as number[])
}

function checkEncoded (encoded: unknown, where: string): void {
  if (!Array.isArray(encoded) || encoded.length < 3 || encoded.length % 2 === 0) throw new StateError(`${where}: not a histogram`)
  const [count, sum, max] = encoded as number[]
  if (!isCount(count) || !isCount(sum) || !isCount(max)) throw new StateError(`${where}: bad count, sum or max`)
  let seen = 0
  let index = -1
  for (let i = 3; i < encoded.length; i += 2) {
    const gap = encoded[i] as number
    const n = encoded[i + 1] as number
    index += gap
    if (!Number.isInteger(gap) || gap < 1 || index >= BUCKET_COUNT || !isCount(n)) throw new StateError(`${where}: bad bucket`)
    seen += n
  }
  if (seen !== count) throw new StateError(`${where}: buckets add up to ${seen}, not ${count}`)
}

function applyEncoded (target: Histogram, encoded: readonly number[]): void {
  let index = -1
  for (let i = 3; i < encoded.length; i += 2) {
    index += encoded[i]!
    target.counts[index]! += encoded[i + 1]!
  }
  target.count += encoded[0]!
  target.sum += encoded[1]!
  if (encoded[2]! > target.max) target.max = encoded[2]!
}

/** The totals of a state file as a Tally (no routes), checked as they are read: a bad number refuses the file. */
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
  addEncoded(tally.histogram, encoded.histogram, 'counts.histogram')
  return tally
}

/**
 * Adds a file's routes line into `tally`: parsed only when a reader needs the routes. All of it or nothing: the
 * whole line is checked before anything is added. Throws StateError.
 */
export function addEndpoints (tally: Tally, text: string): void {
  let entries: unknown
  try {
    entries = JSON.parse(text)
  } catch {
    throw new StateError('routes: not JSON (corrupt or truncated)')
  }
  if (!Array.isArray(entries)) throw new StateError('routes: not a list')
  for (const entry of entries) {
    if (!Array.isArray(entry) || entry.length !== 6) throw new StateError('bad endpoint')
    const [method, route, key, count, errorCount, byClass] = entry as unknown[]
    if (typeof method !== 'string' || typeof route !== 'string' || typeof key !== 'string' || !isCount(count) || !isCount(errorCount) ||
      typeof byClass !== 'object' || byClass === null) throw new StateError('bad endpoint')
    for (const [statusClass, histogram] of Object.entries(byClass)) {
      const slot = Number(statusClass)
      if (!Number.isInteger(slot) || slot < 1 || slot > 5) throw new StateError(`bad status class ${statusClass}`)
      checkEncoded(histogram, `endpoint ${key}`)
    }
  }
  for (const [method, route, key, count, errorCount, byClass] of entries as EncodedEndpoint[]) {
    const endpoint = tally.endpoint(method, route, key)
    endpoint.count += count
    endpoint.errorCount += errorCount
    for (const [statusClass, histogram] of Object.entries(byClass)) applyEncoded(endpoint.byClass[Number(statusClass)] ??= new Histogram(), histogram)
  }
}

export type DecodeResult =
  | { ok: true, state: ProcessState, counts: Tally, endpoints: () => string }
  | { ok: false, reason: string, version?: number }

/** A state file's text: its first line, then its routes line. */
export const stateText = (state: ProcessState, endpoints: string) => `${JSON.stringify(state)}\n${endpoints}\n`

const NEWLINE = 10
const CLOSING_BRACKET = 93

/**
 * A file's contents as a state of app `app`, or why not: corrupt or truncated JSON, another program's file, another
 * app, another version of the format. Only the first line is decoded and parsed; the routes line is checked for
 * being complete, and decoded when `endpoints()` is called (most samples never need it). Never throws.
 */
export function decodeState (input: string | Buffer, app: string): DecodeResult {
  const buffer = typeof input === 'string' ? Buffer.from(input) : input
  const newline = buffer.indexOf(NEWLINE)
  let parsed: unknown
  try {
    parsed = JSON.parse(buffer.toString('utf8', 0, newline === -1 ? buffer.length : newline))
  } catch {
    return { ok: false, reason: buffer.length === 0 ? 'empty file' : 'not JSON (corrupt or truncated)' }
  }
  const state = parsed as ProcessState
  if (typeof parsed !== 'object' || parsed === null || state.format !== FORMAT) return { ok: false, reason: 'not a fastify-server-watch state file' }
  if (state.version !== FORMAT_VERSION) return { ok: false, reason: `format version ${String(state.version)}, this version reads ${FORMAT_VERSION}`, version: Number(state.version) }
  if (state.app !== app) return { ok: false, reason: `written by app "${String(state.app)}", not "${app}"` }
  // The routes line ends with "]" and a newline: a file cut short anywhere lacks them.
  const end = buffer.length
  if (newline === -1 || end < newline + 3 || buffer[end - 1] !== NEWLINE || buffer[end - 2] !== CLOSING_BRACKET) {
    return { ok: false, reason: 'truncated (no complete routes line)' }
  }
  try {
    if (typeof state.id !== 'string' || !Number.isInteger(state.pid) || typeof state.hostname !== 'string' ||
      !isTime(state.startedAt) || !isTime(state.writtenAt) || (state.workerId !== null && typeof state.workerId !== 'string')) throw new StateError('bad identity')
    if (!isHealthStatus(state.status)) throw new StateError('bad status')
    if (state.main !== undefined && state.main !== null && typeof state.main !== 'string') throw new StateError('bad main script')
    if (state.countsTimeouts !== undefined && typeof state.countsTimeouts !== 'boolean') throw new StateError('bad countsTimeouts')
    if (typeof state.gauges !== 'object' || state.gauges === null) throw new StateError('no gauges')
    for (const name of GAUGE_NAMES) if (!isNumberOrNull(state.gauges[name])) throw new StateError(`bad gauge ${name}`)
    if (typeof state.own !== 'object' || state.own === null || !isCount(state.own.totalRequests) || !isCount(state.own.errorCount) ||
      !isNumberOrNull(state.own.p95Ms)) throw new StateError('bad own figures')
    if (!Array.isArray(state.absorbed) || !state.absorbed.every((id) => typeof id === 'string')) throw new StateError('bad absorbed list')
    if (!Array.isArray(state.recentErrors) || state.recentErrors.length > MAX_RECENT_ERRORS) throw new StateError('bad recent errors')
    state.recentErrors = state.recentErrors.map(recentError)
    return { ok: true, state, counts: decodeCounts(state.counts), endpoints: () => buffer.toString('utf8', newline + 1, end - 1) }
  } catch (error) {
    return { ok: false, reason: error instanceof StateError ? error.message : 'malformed' }
  }
}
