import { join } from 'node:path'
import type { RequestCounters } from '../requests/counts.js'
import type { RecentError } from '../schemas/health.js'
import type { ProcessRow } from '../schemas/processes.js'
import { worstStatus, type HealthStatus } from '../status.js'
import type { Liveness } from './liveness.js'
import type { LogOnce } from './log-once.js'
import { processFile } from './names.js'
import type { Scan, Entry } from './scan.js'
import { addEndpoints, GAUGE_NAMES, StateError, type Gauges, type ProcessState } from './state.js'
import { Tally, type Totals } from './tally.js'
import type { LocalSample, WriterIdentity } from './writer.js'

/** The fleet as of one sample: what the routes read until the next. */
export interface FleetView {
  at: number
  /**
   * The fleet's request counters: every process's, the live ones, the dead ones not yet folded and the folded
   * ("retired") ones; `inFlight` is the live processes' sum. The routes are parsed from this sample's files on the
   * first `allEndpoints()`, then kept.
   */
  requests: RequestCounters
  /** Summed over live processes; the event loop's figures are the worst process's. */
  gauges: Gauges
  /** The worst status of the live processes. */
  status: HealthStatus
  processes: ProcessRow[]
  recentErrors: RecentError[]
}

/** The fleet's merged counts as RequestCounters: the totals of every sample, the routes only when read. */
class FleetRequests implements RequestCounters {
  constructor (
    private readonly totals: Tally,
    readonly inFlight: number,
    readonly countsTimeouts: boolean,
    private readonly routes: () => Tally
  ) {}

  get total (): number { return this.totals.total }
  get errorCount (): number { return this.totals.errorCount }
  get shed (): number { return this.totals.shed }
  get aborted (): number { return this.totals.aborted }
  get timedOut (): number { return this.totals.timedOut }
  get statusCodes (): Float64Array { return this.totals.statusCodes }
  get histogram (): Tally['histogram'] { return this.totals.histogram }
  allEndpoints (): ReturnType<Tally['allEndpoints']> { return this.routes().allEndpoints() }
}

export interface MergeInput {
  scan: Scan
  local: LocalSample
  /** What this process's file holds (its own counts plus what it folded). */
  selfCounts: Totals
  selfRoutes: string
  /** The ids this process's file lists as absorbed. */
  selfAbsorbed: readonly string[]
  selfCountsTimeouts: boolean
  now: number
}

const SUMMED_GAUGES = ['inFlight', 'requestsPerSecond', 'rss', 'heapUsed', 'heapTotal', 'external', 'cpuProcessPercent'] as const
const WORST_GAUGES = ['eventLoopDelayP99Ms', 'eventLoopUtilization'] as const

/** Sums the app's files into the fleet's view: counters over every file, gauges, status and rows over the live. */
export class Merger {
  constructor (
    private readonly dir: string,
    private readonly app: string,
    private readonly identity: WriterIdentity,
    private readonly liveness: Liveness,
    /** `defaultName`: whether the app's name is the main script's (not a `shared.name` given). */
    private readonly options: { maxRoutes: number, maxRecentErrors: number, defaultName: boolean },
    private readonly warnings: LogOnce
  ) {}

  merge ({ scan, local, selfCounts, selfRoutes, selfAbsorbed, selfCountsTimeouts, now }: MergeInput): FleetView {
    const counts = new Tally().addTotals(selfCounts)
    const selfId = this.liveness.id
    const routeTexts: Array<[string, () => string]> = [[processFile(this.app, selfId), () => selfRoutes]]
    const absorbed = new Set<string>(selfAbsorbed)
    for (const entry of scan.entries) {
      if (entry.file.kind === 'process') for (const id of entry.state.absorbed) absorbed.add(id)
    }
    const { hostname, pid, workerId, startedAt } = this.identity
    const self: ProcessRow = {
      ...rowOf({ id: selfId, pid, hostname, workerId, startedAt, status: local.status, gauges: local.gauges }, now),
      totalRequests: local.counts.total,
      errorCount: local.counts.errorCount,
      p95Ms: local.p95Ms,
      seenAt: new Date(now).toISOString(),
      self: true
    }
    const live: Array<{ gauges: Gauges }> = [{ gauges: local.gauges }]
    const processes = [self]
    let status = local.status
    let countsTimeouts = selfCountsTimeouts
    const errors: Array<readonly RecentError[]> = [local.recentErrors]
    for (const entry of scan.entries) {
      const { file, state } = entry
      if (file.kind === 'process' && file.id === selfId) continue
      if (file.kind === 'claim' && absorbed.has(file.id)) continue
      counts.addTotals(entry.counts)
      routeTexts.push([entry.name, entry.endpoints])
      if (state.countsTimeouts === true) countsTimeouts = true
      if (file.kind !== 'process' || !this.liveness.isLive(file.id, state.writtenAt, now)) continue
      live.push(state)
      processes.push(otherRow(entry, now))
      status = worstStatus(status, state.status)
      errors.push(state.recentErrors as RecentError[])
      this.checkSameApp(entry)
    }
    processes.sort((a, b) => a.startedAt < b.startedAt ? -1 : a.startedAt > b.startedAt ? 1 : a.pid - b.pid)
    let routes: Tally | null = null
    const readRoutes = (): Tally => {
      if (routes !== null) return routes
      routes = new Tally(this.options.maxRoutes).addTotals(counts)
      for (const [name, text] of routeTexts) {
        try {
          addEndpoints(routes, text())
        } catch (error) {
          // Its first line was sound: its totals count, its routes are left out.
          if (!(error instanceof StateError)) throw error
          this.warnings.warn(`refused:${name}`, `server-watch: ignoring ${join(this.dir, name)} in the shared directory: ${error.message}`)
        }
      }
      routeTexts.length = 0
      return routes
    }
    const gauges = sumGauges(live)
    return {
      at: now,
      requests: new FleetRequests(counts, gauges.inFlight, countsTimeouts, readRoutes),
      gauges,
      status,
      processes,
      recentErrors: newestFirst(errors, this.options.maxRecentErrors)
    }
  }

  /**
   * Two different apps whose main scripts share a name share the default `shared.name` and merge in one directory:
   * said once per script. (An explicit `shared.name` is taken as meant.)
   */
  private checkSameApp (entry: Entry): void {
    const own = this.identity.main
    const other = entry.state.main
    if (own === null || typeof other !== 'string' || other === own || !this.options.defaultName) return
    this.warnings.warn(`main:${other}`, `server-watch: process ${entry.state.pid} on ${entry.state.hostname} runs ${other}, this one ${own}: ` +
      `both are named "${this.app}" in the shared directory ${this.dir} and their figures are merged. If they are two apps, give each ` +
      'its own `shared.name` (or directory); if it is one app started from two paths, set `shared.name` to silence this')
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

function newestFirst (lists: Array<readonly RecentError[]>, max: number): RecentError[] {
  const all = lists.flat().filter((error) => typeof error?.timestamp === 'string')
  all.sort((a, b) => a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : 0)
  return all.slice(0, max)
}
