import { Directory, errorCode, isMissing, RefusedFile } from './directory.js'
import { historyFile } from './names.js'

/**
 * The fleet's chart history in the shared directory, so that a restart leaves a gap in the charts, not an empty
 * page. Written by one process (the longest-running live one) every HISTORY_WRITE_EVERY_MS and when it closes, off
 * the per-sample path; read back once at start. Bounded: the rings themselves, about 2,100 points of each series.
 */
export const HISTORY_FORMAT = 'fastify-server-watch/history'
export const HISTORY_FORMAT_VERSION = 1
export const HISTORY_WRITE_EVERY_MS = 60_000

export interface StoredTier {
  stepMs: number
  timestamps: number[]
  series: Record<string, Array<number | null>>
}

export interface StoredHistory {
  format: typeof HISTORY_FORMAT
  version: number
  app: string
  writtenAt: number
  ranges: Record<string, StoredTier>
}

export function writeHistory (dir: string, app: string, ranges: Record<string, StoredTier>, now: number): void {
  const stored: StoredHistory = { format: HISTORY_FORMAT, version: HISTORY_FORMAT_VERSION, app, writtenAt: now, ranges }
  new Directory(dir, app).write(historyFile(app), JSON.stringify(stored))
}

const isTime = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value >= 0
const isValue = (value: unknown) => value === null || (typeof value === 'number' && Number.isFinite(value))

/**
 * The stored tiers, each checked (ascending timestamps, one value per timestamp in every series); null when there is
 * no file. A file that cannot be used is reported through `refuse` and ignored: a chart gap, never a failed start.
 */
export function readHistory (dir: string, app: string, seriesNames: readonly string[], refuse: (reason: string) => void): Record<string, StoredTier> | null {
  let text: string
  try {
    text = new Directory(dir, app).read(historyFile(app)).toString('utf8')
  } catch (error) {
    if (error instanceof RefusedFile) refuse(error.message)
    else if (!isMissing(error)) refuse(`unreadable (${errorCode(error)})`)
    return null
  }
  let stored: StoredHistory
  try {
    stored = JSON.parse(text) as StoredHistory
  } catch {
    refuse('not JSON (corrupt or truncated)')
    return null
  }
  if (typeof stored !== 'object' || stored === null || stored.format !== HISTORY_FORMAT) {
    refuse('not a fastify-server-watch history file')
    return null
  }
  if (stored.version !== HISTORY_FORMAT_VERSION) {
    refuse(`format version ${String(stored.version)}, this version reads ${HISTORY_FORMAT_VERSION}`)
    return null
  }
  if (stored.app !== app || typeof stored.ranges !== 'object' || stored.ranges === null) {
    refuse('malformed')
    return null
  }
  // No prototype: a range named "__proto__" would otherwise become the prototype, and its unchecked keys ranges.
  const ranges: Record<string, StoredTier> = Object.create(null) as Record<string, StoredTier>
  for (const [range, tier] of Object.entries(stored.ranges)) {
    const { timestamps, series } = tier ?? {}
    const valid = Array.isArray(timestamps) && timestamps.every((t, i) => isTime(t) && (i === 0 || t >= timestamps[i - 1]!)) &&
      typeof series === 'object' && series !== null &&
      seriesNames.every((name) => series[name] === undefined || (Array.isArray(series[name]) && series[name].length === timestamps.length && series[name].every(isValue)))
    if (!valid) {
      refuse(`malformed range ${range}`)
      return null
    }
    ranges[range] = tier
  }
  return ranges
}
