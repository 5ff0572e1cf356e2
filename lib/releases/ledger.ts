import { Histogram } from '../histogram.js'
import type { RequestCounters } from '../requests/counts.js'
import { decodeCounts, encodeHistogram, type EncodedHistogram } from '../shared/state.js'
import type { ReleasesSnapshot } from '../schemas/errors.js'
import { compareReleases, type EndpointTotals } from './comparison.js'

/**
 * What each route did under the current release and under the one before, kept with the history so that a
 * restart on a new release compares against the last one. Two eras only: fixed memory, one combined histogram
 * per route per era (at maxRoutes routes, about 2 x 200 x 3 kB at worst, sparse in the file).
 *
 * The current era's figures are what was carried from before a restart on the same release plus what the live
 * request counters hold since this process started counting (its "baseline": zero for a fresh process).
 */
export const RELEASES_FORMAT = 'fastify-server-watch/releases'
export const RELEASES_FORMAT_VERSION = 1

/** `[key, count, errorCount, histogram]`; the histogram in the shared state files' sparse form. */
export type StoredEndpoint = [string, number, number, EncodedHistogram]

export interface StoredEra {
  release: string | null
  since: number
  until: number | null
  endpoints: StoredEndpoint[]
}

export interface StoredReleases {
  format: typeof RELEASES_FORMAT
  version: number
  writtenAt: number
  current: StoredEra
  previous: StoredEra | null
}

export type ReleasesView = ReleasesSnapshot

class Totals implements EndpointTotals {
  count = 0
  errorCount = 0
  readonly histogram = new Histogram()
}

interface Era {
  release: string | null
  since: number
  until: number | null
  endpoints: Map<string, Totals>
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value) && value >= 0
const isTime = (value: unknown): value is number => isCount(value) && value <= 8.64e15

/** An encoded histogram checked and decoded by the shared state's reader (lib/shared/state.ts): one decoder. */
function decodeHistogram (encoded: EncodedHistogram): Histogram {
  return decodeCounts({ total: 0, errorCount: 0, aborted: 0, timedOut: 0, shed: 0, statusCodes: {}, histogram: encoded }).histogram
}

function decodeEra (value: unknown, what: string): Era {
  const era = value as Partial<StoredEra> | null
  if (typeof era !== 'object' || era === null || !(era.release === null || typeof era.release === 'string') || !isTime(era.since) ||
    !(era.until === null || isTime(era.until)) || !Array.isArray(era.endpoints)) throw new Error(`${what}: malformed`)
  const endpoints = new Map<string, Totals>()
  for (const entry of era.endpoints as unknown[]) {
    if (!Array.isArray(entry) || entry.length !== 4) throw new Error(`${what}: bad endpoint`)
    const [key, count, errorCount, histogram] = entry as unknown[]
    if (typeof key !== 'string' || !isCount(count) || !isCount(errorCount) || errorCount > count) throw new Error(`${what}: bad endpoint`)
    const totals = new Totals()
    totals.count = count
    totals.errorCount = errorCount
    totals.histogram.add(decodeHistogram(histogram as EncodedHistogram))
    endpoints.set(key, totals)
  }
  return { release: era.release, since: era.since, until: era.until, endpoints }
}

/** Parsed JSON as stored releases, or the reason it is not. Never throws. */
export function parseStoredReleases (value: unknown): { current: Era, previous: Era | null, writtenAt: number } | string {
  const stored = value as Partial<StoredReleases> | null
  if (typeof stored !== 'object' || stored === null || stored.format !== RELEASES_FORMAT) return 'not fastify-server-watch releases'
  if (stored.version !== RELEASES_FORMAT_VERSION) return `format version ${String(stored.version)}, this version reads ${RELEASES_FORMAT_VERSION}`
  if (!isTime(stored.writtenAt)) return 'malformed'
  try {
    return { current: decodeEra(stored.current, 'current'), previous: stored.previous == null ? null : decodeEra(stored.previous, 'previous'), writtenAt: stored.writtenAt }
  } catch (error) {
    return (error as Error).message
  }
}

const iso = (time: number) => new Date(time).toISOString()

export class ReleaseLedger {
  readonly current: Era
  readonly previous: Era | null

  /**
   * The eras after a start on `release` at `now`, given what was stored (null: nothing, or unusable): the same
   * release carries on; another one makes the stored current era the previous one, ended when it was last written.
   */
  constructor (release: string | null, now: number, stored: { current: Era, previous: Era | null, writtenAt: number } | null = null) {
    if (stored !== null && stored.current.release === release) {
      this.current = stored.current
      this.previous = stored.previous
    } else {
      this.current = { release, since: now, until: null, endpoints: new Map() }
      this.previous = stored === null ? null : { ...stored.current, until: stored.writtenAt }
    }
  }

  get release (): string | null {
    return this.current.release
  }

  /** The current era's routes: what was carried plus the live counters. */
  private currentTotals (live: RequestCounters): Map<string, Totals> {
    const totals = new Map<string, Totals>()
    for (const [key, carried] of this.current.endpoints) {
      const copy = new Totals()
      copy.count = carried.count
      copy.errorCount = carried.errorCount
      copy.histogram.add(carried.histogram)
      totals.set(key, copy)
    }
    for (const endpoint of live.allEndpoints()) {
      if (endpoint.count === 0) continue
      let into = totals.get(endpoint.key)
      if (into === undefined) totals.set(endpoint.key, into = new Totals())
      into.count += endpoint.count
      into.errorCount += endpoint.errorCount
      for (const histogram of endpoint.byClass) if (histogram !== undefined) into.histogram.add(histogram)
    }
    return totals
  }

  /** `releases` in the snapshot. */
  view (live: RequestCounters): ReleasesView {
    const previous = this.previous
    return {
      current: { release: this.current.release, since: iso(this.current.since) },
      previous: previous === null ? null : { release: previous.release, since: iso(previous.since), until: iso(previous.until ?? previous.since) },
      comparison: previous === null ? [] : compareReleases(previous.endpoints, this.currentTotals(live))
    }
  }

  toJSON (live: RequestCounters, now: number): StoredReleases {
    const era = (from: Era, endpoints: Map<string, Totals>): StoredEra => ({
      release: from.release,
      since: from.since,
      until: from.until,
      endpoints: [...endpoints].map(([key, totals]) => [key, totals.count, totals.errorCount, encodeHistogram(totals.histogram)])
    })
    return {
      format: RELEASES_FORMAT,
      version: RELEASES_FORMAT_VERSION,
      writtenAt: now,
      current: era(this.current, this.currentTotals(live)),
      previous: this.previous === null ? null : era(this.previous, this.previous.endpoints)
    }
  }
}
