import { hostname } from 'node:os'
import type { AlertEngine } from '../alerts/engine.js'
import type { RecentRequests } from '../collectors/recent.js'
import type { CustomMetrics } from '../custom/registry.js'
import { formatUptime } from '../format.js'
import type { History } from '../history.js'
import type { RequestMetrics } from '../requests/store.js'
import type { HealthSnapshot } from '../schemas/health.js'
import { healthStatus, type HealthStatus } from '../status.js'
import type { SampledSnapshot } from '../watch.js'
import type { Fleet } from './fleet.js'
import type { Sources } from './sources.js'
import type { ErrorsAndReleases } from '../error-groups/wiring.js'
import type { Breakdown } from '../breakdown/index.js'
import { addBreakdown } from '../breakdown/snapshot.js'

export interface ReadModelParts {
  sources: Sources
  requests: RequestMetrics
  /** This process's own history: the snapshot's requestsPerSecond. */
  history: History
  recent: RecentRequests
  custom: CustomMetrics
  engine: AlertEngine | null
  fleet: Fleet
  startedAt: number
  fastifyVersion: string
  /** Error groups, releases and Apdex (lib/error-groups/wiring.ts). */
  errors: ErrorsAndReleases
  /** With `breakdown`: added to this process's snapshot (in shared mode the fleet's endpoints carry none). */
  breakdown: Breakdown | null
}

/**
 * What /health, the dashboard, /metrics, OpenTelemetry and the alert rules read, built from the collectors' last
 * samples and the request store: nothing here samples or waits.
 */
export class ReadModel {
  constructor (private readonly parts: ReadModelParts) {}

  /** This process's status alone, whatever the fleet's (lib/status.ts has the rule): what readiness reads. */
  readonly ownStatus = (): HealthStatus => {
    const { sources, engine } = this.parts
    return healthStatus({ checks: sources.checks.read(), database: sources.database.read(), alerts: engine?.status() })
  }

  /** Everything the sampling loop measured, without the per-endpoint figures: what /metrics reads. */
  readonly sampled = (now = Date.now()): SampledSnapshot => {
    const { sources, engine, startedAt, fastifyVersion } = this.parts
    const checks = sources.checks.read()
    const database = sources.database.read()
    const uptimeSeconds = Math.floor(process.uptime())
    return {
      status: healthStatus({ checks, database, alerts: engine?.status() }),
      timestamp: new Date(now).toISOString(),
      uptime: { seconds: uptimeSeconds, formatted: formatUptime(uptimeSeconds) },
      instance: {
        hostname: hostname(),
        pid: process.pid,
        nodeVersion: process.version,
        fastifyVersion,
        platform: `${process.platform} ${process.arch}`,
        startedAt: new Date(startedAt).toISOString(),
        release: this.parts.errors.release
      },
      database,
      checks,
      memory: this.memory(),
      cpu: sources.cpu.read(),
      eventLoop: sources.eventLoop.read(),
      alerts: engine?.active() ?? []
    }
  }

  readonly memory = () => {
    const { processMemory, heapTrend, system } = this.parts.sources
    return { process: { ...processMemory.read(), heapTrend: heapTrend.read() }, system: system.read() }
  }

  /** The application's figures without the per-endpoint table: what alert rules read. */
  readonly application = (now: number) => {
    const { requests, history, recent } = this.parts
    const { mean, ...responseTimeMs } = requests.histogram.summary()
    return {
      totalRequests: requests.total,
      errorCount: requests.errorCount,
      errorRate: requests.total === 0 ? 0 : requests.errorCount / requests.total * 100,
      averageResponseTimeMs: mean,
      responseTimeMs,
      requestsPerSecond: history.requestsPerSecond(now),
      inFlight: Math.max(0, requests.inFlight),
      shed: requests.shed,
      aborted: requests.aborted,
      timedOut: requests.timedOut,
      recent: recent.read()
    }
  }

  /** Exactly what GET /health serves: with several processes, their requests and the worst status. */
  readonly snapshot = (): HealthSnapshot => {
    const { requests, history, recent, custom, fleet, errors, breakdown } = this.parts
    const now = Date.now()
    const { totalRequests, errorCount, errorRate, averageResponseTimeMs, responseTimeMs, ...rest } = requests.snapshot(now)
    const requestsPerSecond = history.requestsPerSecond(now)
    const own: HealthSnapshot = {
      ...this.sampled(now),
      application: { totalRequests, errorCount, errorRate, averageResponseTimeMs, responseTimeMs, requestsPerSecond, ...rest, recent: recent.read(), errorGroups: errors.errorGroups(now) },
      custom: custom.snapshot(),
      releases: errors.releases(),
      apdex: errors.apdex()
    }
    return fleet.snapshot(breakdown === null ? own : addBreakdown(own, breakdown))
  }

  /** The overall status alone, without building the snapshot (the fleet's worst): what /health gives everyone. */
  readonly status = (): HealthStatus => this.parts.fleet.status(this.ownStatus())
}
