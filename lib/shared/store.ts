import { readFileSync } from 'node:fs'
import { hostname as osHostname } from 'node:os'
import { join } from 'node:path'
import {
  claimFile, fileAge, exists, formatId, parseId, processFile, removeIfPresent, renameIfPresent, sanitize, scanDirectory,
  writeAtomic, type Entry, type Scan
} from './directory.js'
import { decodeCounts, decodeState, encodeCounts, FORMAT, FORMAT_VERSION, GAUGE_NAMES, type EncodedCounts, type Gauges, type ProcessState, type Status } from './state.js'
import { Tally, type Counts } from './tally.js'

/** What this process contributes on each sample. */
export interface LocalSample {
  counts: Counts
  status: Status
  gauges: Gauges
  /** Newest first. */
  recentErrors: ReadonlyArray<{ timestamp: string }>
  p95Ms: number | null
}

/** One live process of the fleet, as the snapshot's `processes` lists it. */
export interface ProcessRow {
  id: string
  pid: number
  hostname: string
  workerId: string | null
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
  /** Every process's counts: the live ones, the dead ones not yet folded, and the folded ("retired") ones. */
  counts: Tally
  /** Summed over live processes; the event loop's figures are the worst process's. */
  gauges: Gauges
  /** The worst status of the live processes. */
  status: Status
  processes: ProcessRow[]
  recentErrors: Array<{ timestamp: string }>
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
  private readonly retired = new Tally()
  private readonly baseline = new Tally()
  /** Ids folded into `retired` since the last write: listed in the next file, their claim files then deleted. */
  private absorbed: string[] = []
  private claimsToRemove: string[] = []
  private lastWritten: EncodedCounts | null = null
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
    this.workerId = options.workerId ?? null
    this.staleAfterMs = options.staleAfterMs ?? Math.max(5 * options.sampleIntervalMs, 5000)
    this.abandonedAfterMs = Math.max(ABANDONED_AFTER_INTERVALS * options.sampleIntervalMs, MIN_ABANDONED_MS, this.staleAfterMs)
    this.id = this.makeId()
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

  /** Writes this process's latest figures (on close: the requests since the last sample are not lost). */
  flush (local: LocalSample): void {
    this.checkOwnFile()
    this.write(local, this.now())
  }

  private checkOwnFile (): void {
    if (this.lastWritten === null || exists(this.options.dir, processFile(this.options.app, this.id))) return
    // Folded by another process while this one was stalled: what it held must not be counted again.
    this.baseline.add(decodeCounts(this.lastWritten))
    this.generation++
    this.id = this.makeId()
    this.options.log.warn(`server-watch: this process's shared state was folded by another process (stalled for over ${this.staleAfterMs} ms?); it goes on as ${this.id}`)
  }

  isLive (id: string, writtenAt: number, now: number): boolean {
    if (id === this.id) return true
    const parsed = parseId(id)
    if (parsed === null) return false
    const age = now - writtenAt
    if (parsed.host === sanitize(this.hostname)) {
      // This pid is this process: a file of the same pid and another id is a former life of it.
      if (parsed.pid === this.pid) return false
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
      decoded = decodeState(readFileSync(join(dir, claimed), 'utf8'), app)
    } catch {
      return
    }
    if (!decoded.ok) return
    this.retired.add(decoded.counts)
    this.absorbed.push(decoded.state.id, ...decoded.state.absorbed)
    this.claimsToRemove.push(claimed)
  }

  /** Writes the file; returns the counts it holds (this process's share of the fleet). */
  private write (local: LocalSample, now: number): Counts {
    const counts = this.retired.isEmpty() && this.baseline.isEmpty()
      ? local.counts
      : new Tally().add(local.counts).add(this.retired).add(this.baseline, -1)
    const encoded = encodeCounts(counts)
    const state: ProcessState = {
      format: FORMAT,
      version: FORMAT_VERSION,
      app: this.options.app,
      id: this.id,
      pid: this.pid,
      hostname: this.hostname,
      workerId: this.workerId,
      startedAt: this.startedAt,
      writtenAt: now,
      status: local.status,
      own: { totalRequests: local.counts.total, errorCount: local.counts.errorCount, p95Ms: local.p95Ms },
      gauges: local.gauges,
      counts: encoded,
      recentErrors: local.recentErrors as unknown[],
      absorbed: this.absorbed
    }
    writeAtomic(this.options.dir, this.options.app, processFile(this.options.app, this.id), JSON.stringify(state))
    this.lastWritten = encoded
    return counts
  }

  private merge (scan: Scan, local: LocalSample, selfCounts: Counts, now: number, selfAbsorbed: readonly string[]): FleetView {
    const counts = new Tally(this.options.maxRoutes).add(selfCounts)
    const absorbed = new Set<string>(selfAbsorbed)
    for (const entry of scan.entries) {
      if (entry.file.kind === 'process') for (const id of entry.state.absorbed) absorbed.add(id)
    }
    const self: ProcessRow = {
      ...rowOf({ id: this.id, pid: this.pid, hostname: this.hostname, workerId: this.workerId, startedAt: this.startedAt, status: local.status, gauges: local.gauges }, now),
      totalRequests: local.counts.total,
      errorCount: local.counts.errorCount,
      p95Ms: local.p95Ms,
      seenAt: new Date(now).toISOString(),
      self: true
    }
    const live: Array<{ gauges: Gauges }> = [{ gauges: local.gauges }]
    const processes = [self]
    let status = local.status
    const errors: Array<Array<{ timestamp: string }>> = [local.recentErrors as Array<{ timestamp: string }>]
    for (const entry of scan.entries) {
      const { file, state } = entry
      if (file.kind === 'process') {
        if (file.id === this.id) continue
        counts.add(entry.counts)
        if (!this.isLive(file.id, state.writtenAt, now)) continue
        live.push(state)
        processes.push(otherRow(entry, now))
        if (STATUS_RANK[state.status] > STATUS_RANK[status]) status = state.status
        errors.push(state.recentErrors as Array<{ timestamp: string }>)
      } else if (!absorbed.has(file.id)) {
        counts.add(entry.counts)
      }
    }
    processes.sort((a, b) => a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.pid - b.pid)
    return { at: now, counts, gauges: sumGauges(live), status, processes, recentErrors: newestFirst(errors, this.options.maxRecentErrors) }
  }

  private warnRefused (scan: Scan): void {
    const present = new Set(scan.refused.map(([name]) => name))
    for (const name of this.warned) if (!present.has(name)) this.warned.delete(name)
    for (const [name, reason] of scan.refused) {
      if (this.warned.has(name)) continue
      this.warned.add(name)
      this.options.log.warn(`server-watch: ignoring ${join(this.options.dir, name)} in the shared directory: ${reason}`)
    }
  }

  /** A temporary file outlives its write only when its writer died mid-write. */
  private removeOldTemps (scan: Scan, now: number): void {
    for (const name of scan.temps) {
      const age = fileAge(this.options.dir, name, now)
      if (age !== null && age > this.abandonedAfterMs) removeIfPresent(this.options.dir, name)
    }
  }
}

type RowSource = Pick<ProcessState, 'id' | 'pid' | 'hostname' | 'workerId' | 'startedAt' | 'status' | 'gauges'>

function rowOf (state: RowSource, now: number): Omit<ProcessRow, 'totalRequests' | 'errorCount' | 'p95Ms' | 'seenAt' | 'self'> {
  return {
    id: state.id,
    pid: state.pid,
    hostname: state.hostname,
    workerId: state.workerId ?? null,
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

function newestFirst (lists: Array<Array<{ timestamp: string }>>, max: number): Array<{ timestamp: string }> {
  const all = lists.flat().filter((error) => typeof error?.timestamp === 'string')
  all.sort((a, b) => a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : 0)
  return all.slice(0, max)
}
