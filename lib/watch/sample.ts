import type { FastifyBaseLogger } from 'fastify'
import type { Alerting } from '../alerts/index.js'
import type { RecentRequests } from '../collectors/recent.js'
import type { CustomHistory } from '../custom/history.js'
import type { CustomMetrics } from '../custom/registry.js'
import { loggableError } from '../error-text.js'
import type { History } from '../history.js'
import type { RequestMetrics } from '../requests/store.js'
import type { Gauges, HistoryPoint } from '../schemas/history.js'
import type { LocalSample } from '../shared/store.js'
import type { HealthStatus } from '../status.js'
import type { Fleet } from './fleet.js'
import type { Sources } from './sources.js'

/** What the sample step reads and feeds. */
export interface SampleParts {
  sources: Sources
  requests: RequestMetrics
  recent: RecentRequests
  custom: CustomMetrics
  customHistory: CustomHistory
  /** This process's own history (its request rate; the charts too with one process). */
  history: History
  fleet: Fleet
  alerting: Alerting | null
  /** This process's status, from the collectors just sampled (the read model's rule). */
  ownStatus (): HealthStatus
  log: FastifyBaseLogger
}

/** The history's gauges of this process, from its collectors' last samples: the one place they are assembled. */
export function ownGauges ({ processMemory, system, cpu, eventLoop, database }: Sources): Gauges {
  const memory = processMemory.read()
  const read = database.read()
  const db = read.status === 'not_configured' ? null : read
  const { processPercent, systemPercent } = cpu.read()
  const loop = eventLoop.read()
  return {
    rss: memory.rss,
    heapUsed: memory.heapUsed,
    heapTotal: memory.heapTotal,
    external: memory.external,
    systemMemoryPercent: system.read().percent,
    cpuProcessPercent: processPercent,
    cpuSystemPercent: systemPercent,
    eventLoopDelayP99Ms: loop.delayMs.p99,
    eventLoopUtilization: loop.utilization,
    dbPingMs: db?.pingMs ?? null,
    dbPoolInUse: db?.pool.inUse ?? null,
    dbCommandP95Ms: db?.commands.recentP95Ms ?? null
  }
}

/**
 * The sample step that the sampling loop (lib/sampler.ts) runs: every collector (they never throw: see
 * lib/collectors/types.ts), then what is derived from them in order: the request store's tick, the history, the
 * fleet, the alerts, the custom metrics' history, and the listeners (the live stream, the /metrics cache).
 */
export class SampleStep {
  /** When the last sample finished (null before the first): readiness, and the time of health+json's figures. */
  sampledAt: number | null = null
  private readonly listeners = new Set<(point: HistoryPoint) => void>()

  constructor (private readonly parts: SampleParts) {}

  readonly run = async (): Promise<void> => {
    const { sources, requests, recent, custom, history, fleet } = this.parts
    // A collector that samples synchronously (most do, most of the time) costs no promise and no microtask: on an
    // idle server those were a good part of a sample's cost (benchmark/README.md).
    const pending: Array<Promise<void>> = []
    for (const collector of sources.all) {
      const waiting = collector.sample()
      if (waiting !== undefined) pending.push(waiting)
    }
    if (pending.length > 0) await Promise.all(pending)
    custom.sample()
    const now = Date.now()
    requests.tick(now)
    recent.tick(now)
    const gauges = ownGauges(sources)
    // Before the alerts: a rule on requestsPerSecond reads the rate with this sample in it.
    const own = history.record(now, gauges)
    const point = fleet.record(now, { gauges, point: own, local: () => this.local(now, gauges) })
    this.parts.alerting?.evaluate(now)
    this.parts.customHistory.record(now)
    this.sampledAt = now
    for (const listener of this.listeners) {
      try {
        listener(point)
      } catch (error) {
        this.parts.log.warn({ err: loggableError(error) }, 'server-watch: a sample listener failed')
      }
    }
  }

  onSample (listener: (point: HistoryPoint) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  /** What this process puts in the shared directory on each sample, and on close (`now` then, the last gauges). */
  local (now: number, gauges = ownGauges(this.parts.sources)): LocalSample {
    const { requests, history } = this.parts
    return {
      counts: requests,
      status: this.parts.ownStatus(),
      gauges: {
        inFlight: Math.max(0, requests.inFlight),
        requestsPerSecond: history.requestsPerSecond(now),
        rss: gauges.rss,
        heapUsed: gauges.heapUsed,
        heapTotal: gauges.heapTotal,
        external: gauges.external,
        cpuProcessPercent: gauges.cpuProcessPercent,
        eventLoopDelayP99Ms: gauges.eventLoopDelayP99Ms,
        eventLoopUtilization: gauges.eventLoopUtilization
      },
      recentErrors: requests.recentErrorList(),
      p95Ms: requests.histogram.percentile(0.95)
    }
  }

  close (): void {
    this.listeners.clear()
  }
}
