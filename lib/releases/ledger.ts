import { Histogram } from '../histogram.js'
import type { EndpointCounters } from '../requests/counts.js'
import { decodeCounts, type EncodedHistogram } from '../shared/state.js'
import { encodeHistogram } from '../shared/encode.js'
import { addHistogram } from '../requests/endpoint.js'
import type { ReleasesSnapshot } from '../schemas/errors.js'
import { compareReleases, type EndpointTotals } from './comparison.js'

/**
 * What each route did under the current release and under the one before, kept with the history so that a
 * restart on a new release compares against the last one. Two eras only: fixed memory, one combined histogram
 * per route per era (at maxRoutes routes, about 2 x 200 x 3 kB at worst, sparse in the file).
 *
 * The current era's figures are what was carried from before a restart on the same release plus what the live
 * request counters gained since the ledger started: their routes then are its baseline, zero for one process's
 * fresh store, the fleet's past in shared mode (whose counts outlive a restart).
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

/** What the ledger reads of request counters (one process's store, or the fleet's routes): every route's counts. */
export interface RouteCounts {
  allEndpoints (): Iterable<EndpointCounters>
}

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
export interface KeptReleases { current: Era, previous: Era | null, writtenAt: number }

export function parseStoredReleases (value: unknown): KeptReleases | string {
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

function addTotals (into: Totals, from: EndpointTotals, sign: 1 | -1): Totals {
  into.count += sign * from.count
  into.errorCount += sign * from.errorCount
  addHistogram(into.histogram, from.histogram, sign)
  return into
}

/** Adds every route of the live counters into `totals`, all status classes in one histogram. */
function addLive (totals: Map<string, Totals>, live: RouteCounts): Map<string, Totals> {
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

export class ReleaseLedger {
  readonly current: Era
  readonly previous: Era | null

  /**
   * The eras after a start on `release` at `now`, given what was stored (null: nothing, or unusable): the same
   * release carries on; another one makes the stored current era the previous one, ended when it was last written.
   */
  /**
   * What the live counters held that is not this release's: subtracted from them. In shared mode the fleet's counts
   * outlive a restart: the fleet's routes less this process's own (all of which are this release's) when the ledger
   * started, whenever that is.
   */
  private readonly baseline: Map<string, Totals>

  constructor (release: string | null, now: number, stored: KeptReleases | null = null, live: RouteCounts | null = null, own: RouteCounts | null = null) {
    this.baseline = live === null ? new Map() : addLive(new Map(), live)
    if (own !== null) {
      for (const [key, totals] of addLive(new Map(), own)) {
        const into = this.baseline.get(key)
        if (into !== undefined) addTotals(into, totals, -1)
      }
    }
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

  /** The current era's routes: what was carried plus what the live counters gained since the ledger started. */
  private currentTotals (live: RouteCounts): Map<string, Totals> {
    const totals = new Map<string, Totals>()
    for (const [key, carried] of this.current.endpoints) totals.set(key, addTotals(new Totals(), carried, 1))
    addLive(totals, live)
    for (const [key, before] of this.baseline) {
      const into = totals.get(key)
      if (into !== undefined) addTotals(into, before, -1)
    }
    return totals
  }

  /** `releases` in the snapshot. */
  view (live: RouteCounts): ReleasesView {
    const previous = this.previous
    return {
      current: { release: this.current.release, since: iso(this.current.since) },
      previous: previous === null ? null : { release: previous.release, since: iso(previous.since), until: iso(previous.until ?? previous.since) },
      comparison: previous === null ? [] : compareReleases(previous.endpoints, this.currentTotals(live))
    }
  }

  toJSON (live: RouteCounts, now: number): StoredReleases {
    const era = (from: Era, endpoints: Map<string, Totals>): StoredEra => ({
      release: from.release,
      since: from.since,
      until: from.until,
      endpoints: [...endpoints].filter(([, totals]) => totals.count > 0)
        .map(([key, totals]) => [key, totals.count, totals.errorCount, encodeHistogram(totals.histogram)])
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
