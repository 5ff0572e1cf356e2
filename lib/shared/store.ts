import { hostname as osHostname } from 'node:os'
import { join, resolve } from 'node:path'
import { defaultAppName } from './config.js'
import { describeError, Directory, directoryWarning, type FileSystem } from './directory.js'
import { Folder } from './fold.js'
import { Liveness, pidAlive, RUNNING_IN_THIS_PROCESS } from './liveness.js'
import { LogOnce } from './log-once.js'
import { Merger, type FleetView } from './merge.js'
import { SAMPLE_READ_BUDGET_BYTES, Scanner, type ReadBudget, type Scan } from './scan.js'
import { Tally } from './tally.js'
import { StateWriter, type LocalSample } from './writer.js'

export type { FleetView } from './merge.js'
export type { LocalSample } from './writer.js'

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
  /** The ids of the stores of this process (lib/shared/liveness.ts): by default, the process-wide set. */
  runningHere?: Set<string>
  /** The main script's full path; default: PM2's `pm_exec_path`, else `process.argv[1]`. */
  main?: string | null
  /** What one sample may read in all (lib/shared/scan.ts). */
  readBudgetBytes?: number
  /** The file system (a seam for tests). */
  fs?: FileSystem
}

/** The main script as PM2 or node was given it, as a full path; null when there is none (a REPL). */
function mainScript (): string | null {
  const script = process.env.pm_exec_path ?? process.argv[1]
  return script === undefined || script === '' ? null : resolve(script)
}

/**
 * This process's side of the shared directory, run on the sampling loop only (never per request). Each sample:
 * scan the app's files (lib/shared/scan.ts), fold the dead (lib/shared/fold.ts), write this process's file
 * (lib/shared/writer.ts), and sum everything into the fleet's view (lib/shared/merge.ts), which the routes read until
 * the next sample. Who is alive is lib/shared/liveness.ts's; the file operations are lib/shared/directory.ts's.
 */
export class SharedStore {
  readonly hostname: string
  readonly pid: number
  readonly startedAt: number
  readonly workerId: string | null
  private readonly directory: Directory
  private readonly liveness: Liveness
  private readonly scanner: Scanner
  private readonly folder: Folder
  private readonly writer: StateWriter
  private readonly merger: Merger
  private readonly warnings: LogOnce
  private readonly now: () => number
  private readonly readBudgetBytes: number
  private view: FleetView | null = null

  constructor (private readonly options: SharedStoreOptions) {
    this.now = options.now ?? Date.now
    this.hostname = options.hostname ?? osHostname()
    this.pid = options.pid ?? process.pid
    this.startedAt = options.startedAt ?? this.now()
    this.workerId = options.workerId ?? null
    this.readBudgetBytes = options.readBudgetBytes ?? SAMPLE_READ_BUDGET_BYTES
    const main = options.main === undefined ? mainScript() : options.main
    const identity = { hostname: this.hostname, pid: this.pid, startedAt: this.startedAt, workerId: this.workerId, main }
    this.warnings = new LogOnce(options.log)
    this.directory = new Directory(options.dir, options.app, options.fs)
    this.liveness = new Liveness({
      hostname: this.hostname,
      pid: this.pid,
      startedAt: this.startedAt,
      sampleIntervalMs: options.sampleIntervalMs,
      staleAfterMs: options.staleAfterMs,
      pidAlive: options.pidAlive ?? pidAlive,
      runningHere: options.runningHere ?? RUNNING_IN_THIS_PROCESS
    })
    this.scanner = new Scanner(this.directory, options.log)
    this.folder = new Folder(this.directory, this.liveness, options.maxRoutes, this.warnings)
    this.writer = new StateWriter(this.directory, this.liveness, this.folder, identity, options.log)
    const defaultName = main !== null && options.app === defaultAppName(main)
    this.merger = new Merger(options.dir, options.app, identity, this.liveness, { ...options, defaultName }, this.warnings)
    const warning = directoryWarning(options.dir, options.fs)
    if (warning !== null) options.log.warn(warning)
  }

  /** This incarnation's id: `host_pid_start_generation`. */
  get id (): string {
    return this.liveness.id
  }

  /** This store stops (its app closes): from now on its file is a dead process's, to be folded. */
  release (): void {
    this.liveness.release()
  }

  /** The fleet as of the last sample; null before the first. */
  last (): FleetView | null {
    return this.view
  }

  /** One sample: fold the dead, write this process's file, sum the fleet. */
  sample (local: LocalSample): FleetView {
    const now = this.now()
    // Should the directory fail (removed, read-only), there is no fleet until it is back: never a frozen one.
    this.view = null
    const budget: ReadBudget = { bytes: this.readBudgetBytes }
    this.writer.ensureOwnFile()
    let scan = this.scan(budget)
    this.removeOldTemps(scan, now)
    // A process folds nothing before its own file exists: until then no one could tell its claims from orphans.
    const changed = this.writer.hasWritten && this.folder.fold(scan, now)
    const selfCounts = this.writer.write(local, now, this.folder.pendingAbsorbed())
    const selfAbsorbed = this.folder.afterWrite()
    if (changed) scan = this.scan(budget)
    this.view = this.merger.merge({
      scan,
      local,
      selfCounts,
      selfRoutes: this.writer.lastRoutes,
      selfAbsorbed,
      selfCountsTimeouts: local.counts.countsTimeouts || this.folder.countsTimeouts,
      now
    })
    return this.view
  }

  /** The totals of the app's files as they are, before this process has written: where the fleet's history starts. */
  peekTotals (): Tally {
    const scan = this.scan({ bytes: this.readBudgetBytes })
    const totals = new Tally()
    const absorbed = new Set(scan.entries.flatMap((entry) => entry.file.kind === 'process' ? entry.state.absorbed : []))
    for (const entry of scan.entries) {
      if (entry.file.kind === 'process' || !absorbed.has(entry.file.id)) totals.addTotals(entry.counts)
    }
    return totals
  }

  /**
   * Writes this process's latest figures (on close: the requests since the last sample are not lost). Bounded: one
   * stat and one write of this process's file (at most maxRoutes routes); the directory is not scanned.
   */
  flush (local: LocalSample): void {
    this.writer.ensureOwnFile()
    this.writer.write(local, this.now(), this.folder.pendingAbsorbed())
  }

  /** Scans, and warns once about each refused file. */
  private scan (budget: ReadBudget): Scan {
    const scan = this.scanner.scan(budget)
    const present = new Set([...scan.refused.map(([name]) => name), ...scan.entries.map((entry) => entry.name)])
    this.warnings.forgetAbsent('refused:', present)
    for (const [name, reason] of scan.refused) {
      this.warnings.warn(`refused:${name}`, `server-watch: ignoring ${join(this.options.dir, name)} in the shared directory: ${reason}`)
    }
    return scan
  }

  /**
   * A temporary file outlives its write only when its writer died mid-write. One that cannot be removed (another
   * user's, in a sticky directory) is left, with one warning for all of them: planted names cannot flood the log.
   */
  private removeOldTemps (scan: Scan, now: number): void {
    for (const name of scan.temps) {
      try {
        const age = this.directory.age(name, now)
        if (age !== null && age > this.liveness.abandonedAfterMs) this.directory.remove(name)
      } catch (error) {
        this.warnings.warn('temp', `server-watch: cannot remove old temporary files of the shared directory, such as ${join(this.options.dir, name)} (${describeError(error)}); they are left`)
      }
    }
  }
}
