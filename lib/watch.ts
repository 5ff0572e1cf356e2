/**
 * The read model's contract: everything the plugin knows, independent of Fastify's routing, as /health, the
 * dashboard, /metrics, OpenTelemetry and `app.serverWatch` read it. Built by `createWatch` (lib/watch/compose.ts)
 * from the collectors (lib/watch/sources.ts), the sample step (lib/watch/sample.ts), the read model
 * (lib/watch/read-model.ts) and the fleet (lib/watch/fleet.ts: one process, or lib/shared/ for several).
 */
import type { HeapSpaceInfo } from 'node:v8'
import type { AlertEngine } from './alerts/engine.js'
import type { GcFigures } from './collectors/gc.js'
import type { RuntimeFigures } from './collectors/process.js'
import type { CustomHistoryResponse } from './custom/history.js'
import type { CustomMetrics } from './custom/registry.js'
import type { History } from './history.js'
import type { RequestMetrics } from './requests/store.js'
import type { AlertsView } from './schemas/alerts.js'
import type { ErrorGroups } from './error-groups/index.js'
import type { ErrorGroupStore } from './error-groups/store.js'
import type { HealthSnapshot } from './schemas/health.js'
import type { HistoryPoint } from './schemas/history.js'
import type { HealthStatus } from './status.js'
import type { Fleet } from './watch/fleet.js'
import type { Breakdown } from './breakdown/index.js'

export { createWatch, type WatchContext } from './watch/compose.js'
export type { HealthStatus } from './status.js'

/** The snapshot without the request figures and custom metrics: what the sampling loop measured. */
export type SampledSnapshot = Omit<HealthSnapshot, 'application' | 'custom' | 'releases' | 'apdex'>

export interface Watch {
  /** The request store: the hooks (lib/requests/hooks.ts) write it through its methods; the rest only read it. */
  readonly requests: RequestMetrics
  /** The app's own metrics (app.serverWatch.counter, gauge, histogram). */
  readonly custom: CustomMetrics
  /** With `breakdown` (docs/breakdown.md): its hooks, figures and OpenTelemetry source; null when off. */
  readonly breakdown: Breakdown | null
  /** The custom metrics' figures over the last five minutes, one point per sample. */
  customHistory (): CustomHistoryResponse
  /** What the dashboard charts: the fleet's history with several processes, else this process's. */
  readonly history: History
  /** The processes that serve one view (one, or every live one in shared mode). */
  readonly fleet: Fleet
  /** Exactly what `GET /health` serves to an authorised caller. */
  snapshot (): HealthSnapshot
  /** Everything the sampling loop measured, this process's own status included: what /metrics reads. */
  sampled (now?: number): SampledSnapshot
  /** The overall status alone, without building the snapshot (the fleet's worst): what /health gives everyone. */
  status (): HealthStatus
  /**
   * This process's status alone, whatever the fleet's: what readiness reads, so that one unhealthy worker (or
   * container sharing the directory) takes itself out of the load balancer, not every other one.
   */
  ownStatus (): HealthStatus
  /** When the last sample finished, or null before the first: /health/ready fails until then. */
  sampledAt (): number | null
  /** Every V8 heap space as last sampled, for /metrics (the snapshot keeps the five largest). */
  heapSpaces (): readonly HeapSpaceInfo[]
  /** CPU time, descriptors, active resources and the setImmediate lag, as last sampled: for /metrics. */
  runtime (): RuntimeFigures
  /** Garbage collections by kind, or null when /metrics is off. */
  gc (): GcFigures | null
  /** The alert rules' engine, or null when `alerts: false`. */
  readonly alerts: AlertEngine | null
  alertsView (): AlertsView
  /** The error groups as a store (the fleet's in shared mode): what /metrics reads. */
  errorGroups (): ErrorGroupStore
  /** Where the request hooks record each error into its group (a do-nothing seam with `maxErrorGroups: 0`). */
  readonly errorRecorder: Pick<ErrorGroups, 'record'>
  /** A sample that starts after the call (the next one if one is in flight); the loop goes on as before. */
  sample (): Promise<void>
  /** Called after every sample with its history point; returns the function that unsubscribes. */
  onSample (listener: (point: HistoryPoint) => void): () => void
  /** Starts the sampling loop (its first sample now). */
  start (): void
  /** Writes the last sample where the fleet reads it, stops the loop, and removes every listener and timer. */
  close (): void
}
