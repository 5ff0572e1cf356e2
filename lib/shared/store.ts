import { hostname as osHostname } from 'node:os'
import { join } from 'node:path'
import {
  claimFile, fileAge, exists, formatId, parseId, processFile, readSharedFile, removeIfPresent, renameIfPresent, sanitize, scanDirectory,
  writeAtomic, type Entry, type Scan
} from './directory.js'
import {
  addEndpoints, decodeState, encodeCounts, EndpointEncoder, FORMAT, FORMAT_VERSION, GAUGE_NAMES, StateError, stateText, type Gauges,
  type ProcessState, type Status
} from './state.js'
import type { RecentError } from '../schemas/health.js'
import { Tally, type Counts } from './tally.js'

/** What this process contributes on each sample. */
export interface LocalSample {
  counts: Counts
  status: Status
  gauges: Gauges
  /** Newest first. */
  recentErrors: readonly RecentError[]
  p95Ms: number | null
}

/** One live process of the fleet, as the snapshot's `processes` lists it. */
export interface ProcessRow {
  id: string
  pid: number
  hostname: string
  workerId: string | null
  release: string | null
  startedAt: string
  uptimeSeconds: number
  status: Status
  /** This process's own requests (what it folded from dead processes is not in them). */
  totalRequests: number
  errorCount: number
  requestsPerSecond: number
  p95Ms: number | null
  inFlight: number
  rss: number | null
  heapUsed: number | null
  cpuProcessPercent: number | null
  eventLoopUtilization: number | null
  eventLoopDelayP99Ms: number | null
  /** When its file was last written (for this process: now). */
  seenAt: string
  /** The process that answered. */
  self: boolean
}

export interface FleetView {
  at: number
  /**
   * Every process's totals, without the routes: the live ones, the dead ones not yet folded, and the folded
   * ("retired") ones.
   */
  counts: Tally
  /** The same with the routes: parsed from the files of this sample on the first call, then kept. */
  routes (): Tally
  /** Summed over live processes; the event loop's figures are the worst process's. */
  gauges: Gauges
  /** The worst status of the live processes. */
  status: Status
  processes: ProcessRow[]
  recentErrors: RecentError[]
}

export interface SharedStoreOptions {
  dir: string
  app: string
  sampleIntervalMs: number
  /** A process on another host whose file is older than this is dead. Default: 5 intervals, at least 5 s. */
  staleAfterMs?: number
  maxRoutes: number
  maxRecentErrors: number
  log: { warn: (msg: string) => void }
  workerId?: string | null
  /** The release this process runs: in its row, so that a rolling deploy shows both. */
  release?: string | null
  now?: () => number
  hostname?: string
  pid?: number
  startedAt?: number
  /** Whether a pid of this host is running: `process.kill(pid, 0)`. */
  pidAlive?: (pid: number) => boolean
}

/** A process of this host that has not written for this long is dead even if its pid runs (the pid was reused). */
const ABANDONED_AFTER_INTERVALS = 30
const MIN_ABANDONED_MS = 60_000

/**
 * The ids of the stores running in this process: two plugin instances of one process (two apps, or a test) may
 * share a directory. Another id with this pid is a former life of the process only when it is not one of these.
 */
const RUNNING_HERE = new Set<string>()

export function pidAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

const STATUS_RANK: Record<Status, number> = { healthy: 0, degraded: 1, unhealthy: 2 }
export const worstStatus = (a: Status, b: Status): Status => STATUS_RANK[a] >= STATUS_RANK[b] ? a : b
const SUMMED_GAUGES = ['inFlight', 'requestsPerSecond', 'rss', 'heapUsed', 'heapTotal', 'external', 'cpuProcessPercent'] as const
const WORST_GAUGES = ['eventLoopDelayP99Ms', 'eventLoopUtilization'] as const

/**
 * This process's side of the shared directory, run on the sampling loop only (never per request):
 *
 * 1. Scan the app's files. A process file is dead when its pid is gone on this host (or it is this pid in a former
 *    life: a container restarted as pid 1), or, for another host, when it has not been written for staleAfterMs.
 * 2. Fold each dead file exactly once: claim it with a rename to a claim file named for this process (of two
 *    processes that try, one rename succeeds, the other finds nothing), add its counts to `retired`, and list its id
 *    in `absorbed`. A claim whose claimer died before writing is claimed again the same way.
 * 3. Write this process's file: its own counts plus `retired`, atomically (temporary file, then rename), then
 *    delete the claim files it absorbed. Readers skip a claim whose id an existing file lists as absorbed, so that
 *    between the write and the delete nothing is counted twice, and a claim that was never absorbed still counts.
 * 4. Sum everything into the fleet's view, which the routes read until the next sample.
 *
 * A process wrongly found dead (stalled on another host past staleAfterMs) finds its file gone at its next write:
 * what it had written was folded once, so from then on it writes only what came after (`baseline`), under a new id.
 */
export class SharedStore {
  readonly hostname: string
  readonly pid: number
  readonly startedAt: number
  readonly workerId: string | null
  private generation = 0
  id: string
  /** Past maxRoutes, folded routes share the overflow route: a dead file with many routes must not grow every later file. */
  private readonly retired: Tally
  private readonly baseline = new Tally()
  /** Bumped when retired or baseline change: the encoder's cached route texts are then stale. */
  private carriedVersion = 0
  private readonly encoder = new EndpointEncoder()
  private lastRoutes = '[]'
  /** Ids folded into `retired` since the last write: listed in the next file, their claim files then deleted. */
  private absorbed: string[] = []
  private claimsToRemove: string[] = []
  private lastWritten: string | null = null
  private readonly warned = new Set<string>()
  private readonly now: () => number
  private readonly alive: (pid: number) => boolean
  private readonly staleAfterMs: number
  private readonly abandonedAfterMs: number
  private view: FleetView | null = null

  constructor (private readonly options: SharedStoreOptions) {
    this.now = options.now ?? Date.now
    this.alive = options.pidAlive ?? pidAlive
    this.hostname = options.hostname ?? osHostname()
    this.pid = options.pid ?? process.pid
    this.startedAt = options.startedAt ?? this.now()
    this.retired = new Tally(options.maxRoutes)
    this.workerId = options.workerId ?? null
    this.staleAfterMs = options.staleAfterMs ?? Math.max(5 * options.sampleIntervalMs, 5000)
    this.abandonedAfterMs = Math.max(ABANDONED_AFTER_INTERVALS * options.sampleIntervalMs, MIN_ABANDONED_MS, this.staleAfterMs)
    this.id = this.makeId()
    RUNNING_HERE.add(this.id)
  }

  /** This store stops (its app closes): from now on its file is a dead process's, to be folded. */
  release (): void {
    RUNNING_HERE.delete(this.id)
  }

  private makeId (): string {
    return formatId({ host: this.hostname, pid: this.pid, startedAt: this.startedAt, generation: this.generation })
  }

  /** The fleet as of the last sample; null before the first. */
  last (): FleetView | null {
    return this.view
  }

  /** One sample: fold the dead, write this process's file, sum the fleet. */
  sample (local: LocalSample): FleetView {
    const { dir, app } = this.options
    const now = this.now()
    // Should the directory fail (removed, read-only), there is no fleet until it is back: never a frozen one.
    this.view = null
    this.checkOwnFile()
    let scan = scanDirectory(dir, app)
    this.warnRefused(scan)
    this.removeOldTemps(scan, now)
    // A process folds nothing before its own file exists: until then no one could tell its claims from orphans.
    const changed = this.lastWritten !== null && this.fold(scan, now)
    const counts = this.write(local, now)
    for (const name of this.claimsToRemove) removeIfPresent(dir, name)
    this.claimsToRemove = []
    const absorbedNow = this.absorbed
    this.absorbed = []
    if (changed) scan = scanDirectory(dir, app)
    this.view = this.merge(scan, local, counts, now, absorbedNow)
    return this.view
  }

  /** The totals of the app's files as they are, before this process has written: where the fleet's history starts. */
  peekTotals (): Tally {
    const scan = scanDirectory(this.options.dir, this.options.app)
    const totals = new Tally()
    const absorbed = new Set(scan.entries.flatMap((entry) => entry.file.kind === 'process' ? entry.state.absorbed : []))
    for (const entry of scan.entries) {
      if (entry.file.kind === 'process' || !absorbed.has(entry.file.id)) totals.addTotals(entry.counts)
    }
    return totals
  }

  /** Writes this process's latest figures (on close: the requests since the last sample are not lost). */
  flush (local: LocalSample): void {
    this.checkOwnFile()
    this.write(local, this.now())
  }

  private checkOwnFile (): void {
    if (this.lastWritten === null || exists(this.options.dir, processFile(this.options.app, this.id))) return
    // Folded by another process while this one was stalled: what it held must not be counted again.
    const decoded = decodeState(this.lastWritten, this.options.app)
    if (decoded.ok) {
      this.baseline.addTotals(decoded.counts)
      addEndpoints(this.baseline, decoded.endpoints())
      this.carriedVersion++
    }
    this.generation++
    RUNNING_HERE.delete(this.id)
    this.id = this.makeId()
    RUNNING_HERE.add(this.id)
    this.options.log.warn(`server-watch: this process's shared state was folded by another process (stalled for over ${this.staleAfterMs} ms?); it goes on as ${this.id}`)
  }

  isLive (id: string, writtenAt: number, now: number): boolean {
    if (id === this.id) return true
    const parsed = parseId(id)
    if (parsed === null) return false
    const age = now - writtenAt
    if (parsed.host === sanitize(this.hostname)) {
      // This pid is this process: a file of the same pid is another store of it, or a former life (a container
      // restarted as pid 1).
      if (parsed.pid === this.pid) return RUNNING_HERE.has(id)
      return age < this.abandonedAfterMs && this.alive(parsed.pid)
    }
    return age <= this.staleAfterMs
  }

  /** Claims and folds the dead; returns whether any file was claimed, lost to another claimer, or removed. */
  private fold (scan: Scan, now: number): boolean {
    const { dir } = this.options
    let changed = false
    const absorbed = new Set<string>()
    const live = new Set<string>([this.id])
    for (const entry of scan.entries) {
      if (entry.file.kind !== 'process') continue
      for (const id of entry.state.absorbed) absorbed.add(id)
      if (this.isLive(entry.file.id, entry.state.writtenAt, now)) live.add(entry.file.id)
    }
    for (const entry of scan.entries) {
      const { file } = entry
      if (file.kind === 'process') {
        if (live.has(file.id)) continue
        changed = true
        this.claim(entry.name, file.id)
      } else if (absorbed.has(file.id)) {
        // Already in the file of the process that absorbed it: its claim file is litter.
        changed = true
        removeIfPresent(dir, entry.name)
      } else if (!live.has(file.claimer)) {
        changed = true
        this.claim(entry.name, file.id)
      }
    }
    return changed
  }

  private claim (name: string, id: string): void {
    const { dir, app } = this.options
    const claimed = claimFile(app, id, this.id)
    if (!renameIfPresent(dir, name, claimed)) return
    let decoded
    try {
      decoded = decodeState(readSharedFile(join(dir, claimed)), app)
    } catch {
      return
    }
    if (!decoded.ok) return
    this.retired.addTotals(decoded.counts)
    try {
      addEndpoints(this.retired, decoded.endpoints())
    } catch (error) {
      if (!(error instanceof StateError)) throw error
      this.options.log.warn(`server-watch: the routes of ${claimed} could not be folded (${error.message}); its totals were`)
    }
    this.carriedVersion++
    this.absorbed.push(decoded.state.id, ...decoded.state.absorbed)
    this.claimsToRemove.push(claimed)
  }

  /** Writes the file; returns the totals it holds (this process's share of the fleet). */
  private write (local: LocalSample, now: number): Omit<Counts, 'allEndpoints'> {
    const counts = this.retired.isEmpty() && this.baseline.isEmpty()
      ? local.counts
      : new Tally().addTotals(local.counts).addTotals(this.retired).addTotals(this.baseline, -1)
    const encoded = encodeCounts(counts)
    const routes = this.encoder.encode(local.counts, this.retired, this.baseline, this.carriedVersion)
    const state: ProcessState = {
      format: FORMAT,
      version: FORMAT_VERSION,
      app: this.options.app,
      id: this.id,
      pid: this.pid,
      hostname: this.hostname,
      workerId: this.workerId,
      release: this.options.release ?? null,
      startedAt: this.startedAt,
      writtenAt: now,
      status: local.status,
      own: { totalRequests: local.counts.total, errorCount: local.counts.errorCount, p95Ms: local.p95Ms },
      gauges: local.gauges,
      counts: encoded,
      recentErrors: local.recentErrors as unknown[],
      absorbed: this.absorbed
    }
    const text = stateText(state, routes)
    writeAtomic(this.options.dir, this.options.app, processFile(this.options.app, this.id), text)
    this.lastWritten = text
    this.lastRoutes = routes
    return counts
  }

  private merge (scan: Scan, local: LocalSample, selfCounts: Omit<Counts, 'allEndpoints'>, now: number, selfAbsorbed: readonly string[]): FleetView {
    const counts = new Tally().addTotals(selfCounts)
    const ownRoutes = this.lastRoutes
    const routeTexts: Array<[string, () => string]> = [[processFile(this.options.app, this.id), () => ownRoutes]]
    const absorbed = new Set<string>(selfAbsorbed)
    for (const entry of scan.entries) {
      if (entry.file.kind === 'process') for (const id of entry.state.absorbed) absorbed.add(id)
    }
    const self: ProcessRow = {
      ...rowOf({ id: this.id, pid: this.pid, hostname: this.hostname, workerId: this.workerId, release: this.options.release ?? null, startedAt: this.startedAt, status: local.status, gauges: local.gauges }, now),
      totalRequests: local.counts.total,
      errorCount: local.counts.errorCount,
      p95Ms: local.p95Ms,
      seenAt: new Date(now).toISOString(),
      self: true
    }
    const live: Array<{ gauges: Gauges }> = [{ gauges: local.gauges }]
    const processes = [self]
    let status = local.status
    const errors: Array<readonly RecentError[]> = [local.recentErrors]
    for (const entry of scan.entries) {
      const { file, state } = entry
      if (file.kind === 'process') {
        if (file.id === this.id) continue
        counts.addTotals(entry.counts)
        routeTexts.push([entry.name, entry.endpoints])
        if (!this.isLive(file.id, state.writtenAt, now)) continue
        live.push(state)
        processes.push(otherRow(entry, now))
        if (STATUS_RANK[state.status] > STATUS_RANK[status]) status = state.status
        errors.push(state.recentErrors as RecentError[])
      } else if (!absorbed.has(file.id)) {
        counts.addTotals(entry.counts)
        routeTexts.push([entry.name, entry.endpoints])
      }
    }
    processes.sort((a, b) => a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.pid - b.pid)
    let routes: Tally | null = null
    const readRoutes = () => {
      if (routes !== null) return routes
      routes = new Tally(this.options.maxRoutes).addTotals(counts)
      for (const [name, text] of routeTexts) {
        try {
          addEndpoints(routes, text())
        } catch (error) {
          // Its first line was sound: its totals count, its routes are left out.
          if (!(error instanceof StateError)) throw error
          this.warnOnce(name, error.message)
        }
      }
      routeTexts.length = 0
      return routes
    }
    return { at: now, counts, routes: readRoutes, gauges: sumGauges(live), status, processes, recentErrors: newestFirst(errors, this.options.maxRecentErrors) }
  }

  private warnRefused (scan: Scan): void {
    const present = new Set([...scan.refused, ...scan.entries.map((entry) => [entry.name])].map(([name]) => name))
    for (const name of this.warned) if (!present.has(name)) this.warned.delete(name)
    for (const [name, reason] of scan.refused) this.warnOnce(name, reason)
  }

  private warnOnce (name: string, reason: string): void {
    if (this.warned.has(name)) return
    this.warned.add(name)
    this.options.log.warn(`server-watch: ignoring ${join(this.options.dir, name)} in the shared directory: ${reason}`)
  }

  /** A temporary file outlives its write only when its writer died mid-write. */
  private removeOldTemps (scan: Scan, now: number): void {
    for (const name of scan.temps) {
      const age = fileAge(this.options.dir, name, now)
      if (age !== null && age > this.abandonedAfterMs) removeIfPresent(this.options.dir, name)
    }
  }
}

type RowSource = Pick<ProcessState, 'id' | 'pid' | 'hostname' | 'workerId' | 'release' | 'startedAt' | 'status' | 'gauges'>

function rowOf (state: RowSource, now: number): Omit<ProcessRow, 'totalRequests' | 'errorCount' | 'p95Ms' | 'seenAt' | 'self'> {
  return {
    id: state.id,
    pid: state.pid,
    hostname: state.hostname,
    workerId: state.workerId ?? null,
    release: state.release ?? null,
    startedAt: new Date(state.startedAt).toISOString(),
    uptimeSeconds: Math.max(0, Math.floor((now - state.startedAt) / 1000)),
    status: state.status,
    requestsPerSecond: state.gauges.requestsPerSecond,
    inFlight: state.gauges.inFlight,
    rss: state.gauges.rss,
    heapUsed: state.gauges.heapUsed,
    cpuProcessPercent: state.gauges.cpuProcessPercent,
    eventLoopUtilization: state.gauges.eventLoopUtilization,
    eventLoopDelayP99Ms: state.gauges.eventLoopDelayP99Ms
  }
}

function otherRow (entry: Entry, now: number): ProcessRow {
  const { state } = entry
  return {
    ...rowOf(state, now),
    totalRequests: state.own.totalRequests,
    errorCount: state.own.errorCount,
    p95Ms: state.own.p95Ms,
    seenAt: new Date(state.writtenAt).toISOString(),
    self: false
  }
}

function sumGauges (live: ReadonlyArray<{ gauges: Gauges }>): Gauges {
  const out = {} as Record<keyof Gauges, number | null>
  for (const name of GAUGE_NAMES) out[name] = null
  for (const { gauges } of live) {
    for (const name of SUMMED_GAUGES) {
      const value = gauges[name]
      if (value !== null) out[name] = (out[name] ?? 0) + value
    }
    for (const name of WORST_GAUGES) {
      const value = gauges[name]
      if (value !== null && (out[name] === null || value > out[name])) out[name] = value
    }
  }
  out.inFlight ??= 0
  out.requestsPerSecond = Math.round((out.requestsPerSecond ?? 0) * 100) / 100
  return out as Gauges
}

function newestFirst (lists: Array<readonly RecentError[]>, max: number): RecentError[] {
  const all = lists.flat().filter((error) => typeof error?.timestamp === 'string')
  all.sort((a, b) => a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : 0)
  return all.slice(0, max)
}
