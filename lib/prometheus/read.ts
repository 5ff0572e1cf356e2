import type { HeapSpaceInfo } from 'node:v8'
import type { GcFigures } from '../collectors/gc.js'
import type { RuntimeFigures } from '../collectors/process.js'
import type { RequestCounters } from '../requests/counts.js'
import type { AlertsView } from '../schemas/alerts.js'
import type { FleetView } from '../shared/store.js'
import type { SampledSnapshot } from '../watch.js'
import type { ErrorGroupStore } from '../error-groups/store.js'
import type { Breakdown } from '../breakdown/index.js'

/**
 * Everything one rendering reads, taken from the watch's read model once per rendering: the families compute
 * nothing a collector should (no /proc read, no cpuUsage, no active-resources call at scrape time).
 */
export interface MetricsRead {
  snapshot: SampledSnapshot
  /** This process's request counters, or in shared mode the fleet's. */
  requests: RequestCounters
  /** `prometheus: { statusCode: true }`: the duration histograms carry the exact status code. */
  statusCode: boolean
  runtime: RuntimeFigures | null
  heapSpaces: readonly HeapSpaceInfo[]
  gc: GcFigures | null
  alerts: Pick<AlertsView, 'rules' | 'active'> | null
  /** Shared mode's view of the fleet, or null. */
  fleet: FleetView | null
  /** The error groups (the fleet's in shared mode), or null when they are off (`maxErrorGroups: 0`). */
  errorGroups?: ErrorGroupStore | null
  /** With `breakdown`: its per-route and per-host figures (lib/breakdown/prometheus.ts); else null. */
  breakdown?: Breakdown | null
}
