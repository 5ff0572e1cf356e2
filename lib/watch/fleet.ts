import type { History } from '../history.js'
import type { HealthSnapshot } from '../schemas/health.js'
import type { Gauges, HistoryPoint } from '../schemas/history.js'
import type { FleetView, LocalSample } from '../shared/store.js'
import type { ProcessSeries } from '../shared/watch.js'
import type { HealthStatus } from '../status.js'

/** This process's part of a sample, as the sample step hands it to the fleet. */
export interface OwnSample {
  /** This process's gauges, as its own history recorded them. */
  gauges: Gauges
  /** This process's history point of the sample. */
  point: HistoryPoint
  /** What this process tells the others: built only when there are others to tell. */
  local (): LocalSample
}

/**
 * The processes that serve one view: this process alone, or in shared mode (lib/shared/watch.ts) every live
 * process of the app. The watch asks it, never whether shared mode is on; the single-process implementation
 * returns this process's own figures unchanged.
 */
export interface Fleet {
  /** What the dashboard charts: the fleet's history, or this process's own. */
  readonly history: History
  /**
   * After this process's own history point: the fleet's point, which the live stream sends. In shared mode this
   * writes this process's file and reads the others'; a directory that fails at run time logs once and the sample
   * goes on with this process's point.
   */
  record (now: number, own: OwnSample): HistoryPoint
  /** The status /health gives everyone: the worst of `own` and every live process's. Readiness keeps `own`. */
  status (own: HealthStatus): HealthStatus
  /** The snapshot with the fleet's requests, status, `processes` and `fleet` in it. */
  snapshot (own: HealthSnapshot): HealthSnapshot
  /** The fleet as of the last sample, for /metrics' merged series; null with one process (or before a sample). */
  view (): FleetView | null
  /** A live process's last five minutes (the dashboard's per-process charts); null for an unknown id. */
  processSeries (id: string): ProcessSeries | null
  /**
   * Whether this process writes the files that outlive the processes (the history, the groups of processes gone,
   * the releases' eras): with one process, itself; in shared mode the longest-running live one, or any while there
   * is no fleet view yet. One writer, whatever the number of processes.
   */
  keepsFiles (): boolean
  /** On close: the requests since the last sample written where the others will count them. */
  close (local: () => LocalSample): void
}

/** One process: every answer is this process's own. */
export function singleProcess (history: History): Fleet {
  return {
    history,
    record: (_now, own) => own.point,
    status: (own) => own,
    snapshot: (own) => own,
    view: () => null,
    processSeries: () => null,
    keepsFiles: () => true,
    close () {}
  }
}
