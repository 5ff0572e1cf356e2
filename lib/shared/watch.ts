import { failureLogger } from '../collectors/types.js'
import { loggableError } from '../error-text.js'
import { History } from '../history.js'
import { HISTORY_RANGES, SERIES, type HistoryRange } from '../schemas/history.js'
import { worstStatus } from '../status.js'
import type { Fleet } from '../watch/fleet.js'
import { fleetApplication, FleetTotals } from './application.js'
import { HISTORY_WRITE_EVERY_MS, readHistory, writeHistory, type StoredTier } from './history-file.js'
import { SharedStore, type FleetView, type LocalSample } from './store.js'
import { checkWritable, type NormalizedShared } from './config.js'

/** What the history must offer to be kept in the shared directory (lib/history.ts). */
export interface PersistedHistory<Range extends string> {
  query (range: Range): StoredTier & { range: Range }
  restore (range: Range, tier: StoredTier): void
}

export interface SharedWatchOptions {
  shared: NormalizedShared
  sampleIntervalMs: number
  maxRoutes: number
  maxRecentErrors: number
  /** The release this process runs (lib/releases/release.ts), shown in its row. */
  release?: { release: string | null }
  log: { warn: (msg: string) => void }
  now?: () => number
}

/** What the fleet logs through: the plugin's logger. */
interface FleetLog {
  warn (msg: string): void
  warn (obj: object, msg: string): void
}

/** One live process's recent figures for the dashboard when it shows that process alone: the 5 minute range. */
const PROCESS_SERIES = ['requestsPerSecond', 'rss', 'heapUsed', 'cpuProcessPercent', 'eventLoopUtilization', 'eventLoopDelayP99Ms'] as const
type ProcessSeriesName = typeof PROCESS_SERIES[number]

export interface ProcessSeries {
  timestamps: number[]
  series: Record<ProcessSeriesName, Array<number | null>>
}

const emptySeries = (): ProcessSeries['series'] =>
  ({ requestsPerSecond: [], rss: [], heapUsed: [], cpuProcessPercent: [], eventLoopUtilization: [], eventLoopDelayP99Ms: [] })
const PROCESS_SPAN_MS = 5 * 60_000

/**
 * Shared mode for one process: the store (lib/shared/store.ts), the fleet's totals that the fleet history reads, the
 * history kept in the directory, and each live process's last five minutes, built from the files every process reads
 * anyway (no process writes a history of its own per sample).
 */
export function createSharedWatch (options: SharedWatchOptions) {
  const now = options.now ?? Date.now
  const store = new SharedStore({
    dir: options.shared.dir,
    app: options.shared.name,
    workerId: options.shared.workerId,
    release: options.release?.release ?? null,
    sampleIntervalMs: options.sampleIntervalMs,
    maxRoutes: options.maxRoutes,
    maxRecentErrors: options.maxRecentErrors,
    log: options.log,
    now
  })
  const totals = new FleetTotals()
  // From the files as they are: the history's first step must not count the fleet's past as new requests.
  totals.fill(store.peekTotals())
  const perProcess = new Map<string, ProcessSeries>()
  let historyWrittenAt = now()
  let leader = false

  function track (view: FleetView): void {
    const cutoff = view.at - PROCESS_SPAN_MS
    const live = new Set<string>()
    for (const row of view.processes) {
      live.add(row.id)
      let ring = perProcess.get(row.id)
      if (ring === undefined) {
        ring = { timestamps: [], series: emptySeries() }
        perProcess.set(row.id, ring)
      }
      ring.timestamps.push(view.at)
      for (const name of PROCESS_SERIES) ring.series[name].push(row[name])
      let drop = 0
      while (drop < ring.timestamps.length && ring.timestamps[drop]! < cutoff) drop++
      if (drop > 0) {
        ring.timestamps.splice(0, drop)
        for (const name of PROCESS_SERIES) ring.series[name].splice(0, drop)
      }
    }
    for (const id of perProcess.keys()) if (!live.has(id)) perProcess.delete(id)
  }

  return {
    store,
    totals,
    /** The fleet as of the last sample; null before the first. */
    view: () => store.last(),
    /** Sampling step: write this process's file, fold the dead, merge the fleet. */
    sample (local: LocalSample): FleetView {
      const view = store.sample(local)
      totals.fill(view.requests)
      track(view)
      // The longest-running live process keeps the history file: one writer, whatever the number of processes.
      leader = view.processes[0]?.self === true
      return view
    },
    /** The fleet's history as a new process finds it: read once, before the first sample. */
    restore<Range extends string> (history: PersistedHistory<Range>, ranges: readonly Range[], seriesNames: readonly string[]): void {
      const stored = readHistory(options.shared.dir, options.shared.name, seriesNames, (reason) => {
        options.log.warn(`server-watch: ignoring the shared history of "${options.shared.name}" in ${options.shared.dir}: ${reason}`)
      })
      if (stored === null) return
      for (const range of ranges) {
        const tier = stored[range]
        if (tier !== undefined) history.restore(range, tier)
      }
    },
    /** Every minute, by the leader only: the history is about 250 kB of JSON, too much for every sample. */
    persist<Range extends string> (history: PersistedHistory<Range>, ranges: readonly Range[], force = false): void {
      const at = now()
      if (!force && (!leader || at - historyWrittenAt < HISTORY_WRITE_EVERY_MS)) return
      historyWrittenAt = at
      const stored: Record<string, StoredTier> = {}
      for (const range of ranges) {
        const { stepMs, timestamps, series } = history.query(range)
        stored[range] = { stepMs, timestamps, series }
      }
      writeHistory(options.shared.dir, options.shared.name, stored, at)
    },
    /** Closing: the last requests into this process's file, and the history if this process keeps it. */
    close<Range extends string> (local: LocalSample, history: PersistedHistory<Range>, ranges: readonly Range[]): void {
      try {
        store.flush(local)
        if (this.keepsFiles()) this.persist(history, ranges, true)
      } finally {
        store.release()
      }
    },
    /** A live process's last five minutes, or null for an id that is not live. */
    processSeries: (id: string): ProcessSeries | null => perProcess.get(id) ?? null,
    /** Whether this process keeps the files that outlive it (see Fleet.keepsFiles): the leader, or any before a view. */
    keepsFiles: (): boolean => leader || store.last() === null
  }
}

export type SharedWatch = ReturnType<typeof createSharedWatch>

/**
 * Shared mode's Fleet (lib/watch/fleet.ts): the charts are the fleet's, read back from the shared directory at
 * start and kept there; /health's requests and status are the fleet's; readiness stays this process's own.
 */
export function createSharedFleet (options: Omit<SharedWatchOptions, 'log'> & { log: FleetLog, startedAt: number }): Fleet {
  const { log } = options
  checkWritable(options.shared)
  const shared = createSharedWatch({ ...options, log: { warn: (msg: string) => log.warn(msg) } })
  const history = new History(shared.totals, options.sampleIntervalMs, options.startedAt)
  const ranges = Object.keys(HISTORY_RANGES) as HistoryRange[]
  shared.restore(history, ranges, SERIES)
  const failures = failureLogger(log, 'the shared directory')

  return {
    history,
    record (now, own) {
      // The fleet: this process's file written, the others' read; their memory summed, the worst loop. The
      // directory may fail at run time (removed, read-only): the rest of the sample (alerts, the live stream) goes on.
      let view: FleetView
      try {
        view = shared.sample(own.local())
        failures.recovered()
      } catch (error) {
        failures.failed(error)
        return own.point
      }
      const fleet = view.gauges
      const point = history.record(now, {
        ...own.gauges,
        rss: fleet.rss,
        heapUsed: fleet.heapUsed,
        heapTotal: fleet.heapTotal,
        external: fleet.external,
        cpuProcessPercent: fleet.cpuProcessPercent,
        eventLoopDelayP99Ms: fleet.eventLoopDelayP99Ms,
        eventLoopUtilization: fleet.eventLoopUtilization
      })
      try {
        shared.persist(history, ranges)
      } catch (error) {
        failures.failed(error)
      }
      return point
    },
    status: (own) => worstStatus(own, shared.view()?.status ?? 'healthy'),
    snapshot (own) {
      const view = shared.view()
      if (view === null) return own
      return {
        ...own,
        status: worstStatus(own.status, view.status),
        application: { ...own.application, ...fleetApplication(view) },
        processes: view.processes,
        fleet: {
          processes: view.processes.length,
          rss: view.gauges.rss,
          heapUsed: view.gauges.heapUsed,
          eventLoopDelayP99Ms: view.gauges.eventLoopDelayP99Ms,
          eventLoopUtilization: view.gauges.eventLoopUtilization
        }
      }
    },
    view: shared.view,
    processSeries: shared.processSeries,
    keepsFiles: shared.keepsFiles,
    close (local) {
      // The requests since the last sample, and the history if this process keeps it: a reload loses no counts.
      try {
        shared.close(local(), history, ranges)
      } catch (error) {
        log.warn({ err: loggableError(error) }, 'server-watch: the last write to the shared directory failed')
      }
    }
  }
}
