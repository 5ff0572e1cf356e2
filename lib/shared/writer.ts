import type { RecentError } from '../schemas/health.js'
import type { RequestCounters } from '../requests/counts.js'
import type { HealthStatus } from '../status.js'
import type { Directory } from './directory.js'
import { encodeCounts, EndpointEncoder } from './encode.js'
import type { Folder } from './fold.js'
import type { Liveness } from './liveness.js'
import { processFile } from './names.js'
import { addEndpoints, decodeState, FORMAT, FORMAT_VERSION, stateText, type Gauges, type ProcessState } from './state.js'
import { Tally, type Totals } from './tally.js'

/** What this process contributes on each sample. */
export interface LocalSample {
  counts: RequestCounters
  status: HealthStatus
  gauges: Gauges
  /** Newest first. */
  recentErrors: readonly RecentError[]
  p95Ms: number | null
}

export interface WriterIdentity {
  hostname: string
  pid: number
  startedAt: number
  workerId: string | null
  /** The main script's full path (lib/shared/merge.ts tells two apps of one name apart by it). */
  main: string | null
}

/**
 * Writes this process's state file: its own counts plus what it folded (`retired`), atomically (lib/shared/directory.ts).
 *
 * A process wrongly found dead (stalled on another host past staleAfterMs) finds its file gone at its next write:
 * what it had written was folded once, so from then on it writes only what came after (`baseline` is taken out),
 * under a new id.
 */
export class StateWriter {
  private readonly baseline = new Tally()
  private baselineVersion = 0
  private readonly encoder = new EndpointEncoder()
  /** The routes line last written: this process's part of the fleet's routes. */
  lastRoutes = '[]'
  private lastWritten: string | null = null

  constructor (
    private readonly directory: Directory,
    private readonly liveness: Liveness,
    private readonly folder: Folder,
    private readonly identity: WriterIdentity,
    private readonly log: { warn: (msg: string) => void }
  ) {}

  /** Whether this process's file exists (it folds nothing before: until then no one could tell its claims from orphans). */
  get hasWritten (): boolean {
    return this.lastWritten !== null
  }

  /** Before a write: if this process's file was folded by another (it was stalled), go on under a new id. */
  ensureOwnFile (): void {
    if (this.lastWritten === null || this.directory.exists(processFile(this.directory.app, this.liveness.id))) return
    // What it held must not be counted again.
    const decoded = decodeState(this.lastWritten, this.directory.app)
    if (decoded.ok) {
      this.baseline.addTotals(decoded.counts)
      addEndpoints(this.baseline, decoded.endpoints())
      this.baselineVersion++
    }
    const id = this.liveness.renew()
    this.log.warn(`server-watch: this process's shared state was folded by another process (stalled for over ${this.liveness.staleAfterMs} ms?); it goes on as ${id}`)
  }

  /** Writes the file; returns the totals it holds (this process's share of the fleet). */
  write (local: LocalSample, now: number, absorbed: readonly string[]): Totals {
    const { retired } = this.folder
    const counts: Totals = retired.isEmpty() && this.baseline.isEmpty()
      ? local.counts
      : new Tally().addTotals(local.counts).addTotals(retired).addTotals(this.baseline, -1)
    // Both only grow: their sum changes whenever either does.
    const routes = this.encoder.encode(local.counts, retired, this.baseline, this.folder.version + this.baselineVersion)
    const { hostname, pid, startedAt, workerId, main } = this.identity
    const state: ProcessState = {
      format: FORMAT,
      version: FORMAT_VERSION,
      app: this.directory.app,
      id: this.liveness.id,
      pid,
      hostname,
      workerId,
      startedAt,
      writtenAt: now,
      status: local.status,
      main,
      countsTimeouts: local.counts.countsTimeouts || this.folder.countsTimeouts,
      own: { totalRequests: local.counts.total, errorCount: local.counts.errorCount, p95Ms: local.p95Ms },
      gauges: local.gauges,
      counts: encodeCounts(counts),
      recentErrors: local.recentErrors as unknown[],
      absorbed: [...absorbed]
    }
    const text = stateText(state, routes)
    this.directory.write(processFile(this.directory.app, this.liveness.id), text)
    this.lastWritten = text
    this.lastRoutes = routes
    return counts
  }
}
