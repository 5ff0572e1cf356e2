import { groupId } from './fingerprint.js'
import { MINUTES } from './series.js'

/**
 * The JSON form of the error groups: what is persisted with the history and what one process hands to the
 * others in shared mode. Every field of a group is what its merge needs: counts add, times take min/max, the
 * per-minute series add aligned by minute (lib/error-groups/series.ts).
 */
export const ERROR_GROUPS_FORMAT = 'fastify-server-watch/error-groups'
export const ERROR_GROUPS_FORMAT_VERSION = 1

export interface StoredErrorGroup {
  id: string
  fingerprint: string
  name: string
  code: string | null
  message: string
  count: number
  firstSeen: number
  lastSeen: number
  firstRelease: string | null
  /** The last release in which this group raised its `error.new` alert; undefined: never. */
  alertedRelease?: string | null
  endpoints: Record<string, number>
  statusCodes: Record<string, number>
  stack: string | null
  perMinute: { newest: number | null, counts: number[] }
}

export interface StoredErrorGroups {
  format: typeof ERROR_GROUPS_FORMAT
  version: number
  /** Groups dropped to stay within maxErrorGroups, since the count began. */
  evicted: number
  groups: StoredErrorGroup[]
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0
const isTime = (value: unknown): value is number => isCount(value) && value <= 8.64e15
const isText = (value: unknown, max: number): value is string => typeof value === 'string' && value.length <= max
const isTextOrNull = (value: unknown, max: number) => value === null || isText(value, max)
const MAX_ENTRIES = 1000

function isTally (value: unknown): value is Record<string, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const entries = Object.entries(value)
  return entries.length <= MAX_ENTRIES && entries.every(([key, n]) => key.length <= 1000 && isCount(n))
}

/** Why `value` is not a stored group, or null when it is one (its id the hash of its fingerprint). */
function groupProblem (value: unknown): string | null {
  if (typeof value !== 'object' || value === null) return 'not an object'
  const group = value as Partial<StoredErrorGroup>
  if (!isText(group.fingerprint, 2000) || group.id !== groupId(group.fingerprint)) return 'id does not match its fingerprint'
  if (!isText(group.name, 1000) || !isTextOrNull(group.code, 1000) || !isText(group.message, 20_000) || !isTextOrNull(group.stack, 20_000)) return 'bad text'
  if (!isCount(group.count) || !isTime(group.firstSeen) || !isTime(group.lastSeen) || group.firstSeen > group.lastSeen) return 'bad count or times'
  if (!isTextOrNull(group.firstRelease, 1000) || (group.alertedRelease !== undefined && !isTextOrNull(group.alertedRelease, 1000))) return 'bad release'
  if (!isTally(group.endpoints) || !isTally(group.statusCodes)) return 'bad endpoints or status codes'
  const series = group.perMinute
  if (typeof series !== 'object' || series === null || !Array.isArray(series.counts) || series.counts.length > MINUTES ||
    !series.counts.every(isCount) || (series.newest !== null && !isCount(series.newest))) return 'bad per-minute series'
  return null
}

/**
 * `value` (parsed JSON) as stored error groups, or the reason it is not: another format or version, or a group
 * that fails its checks (all or nothing, as the shared state files are read).
 */
export function parseStoredGroups (value: unknown): StoredErrorGroups | string {
  if (typeof value !== 'object' || value === null) return 'not an object'
  const stored = value as Partial<StoredErrorGroups>
  if (stored.format !== ERROR_GROUPS_FORMAT) return 'not fastify-server-watch error groups'
  if (stored.version !== ERROR_GROUPS_FORMAT_VERSION) return `format version ${String(stored.version)}, this version reads ${ERROR_GROUPS_FORMAT_VERSION}`
  if (!isCount(stored.evicted) || !Array.isArray(stored.groups) || stored.groups.length > MAX_ENTRIES) return 'malformed'
  for (const [i, group] of stored.groups.entries()) {
    const problem = groupProblem(group)
    if (problem !== null) return `group ${i}: ${problem}`
  }
  return stored as StoredErrorGroups
}
