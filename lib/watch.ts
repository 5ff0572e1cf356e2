import { hostname } from 'node:os'
import type { FastifyBaseLogger } from 'fastify'
import { readCgroupLimits } from './collectors/cgroup.js'
import { createChecksCollector } from './collectors/checks.js'
import { createCpuCollector } from './collectors/cpu.js'
import { createEventLoopCollector } from './collectors/event-loop.js'
import { createHeapTrendCollector } from './collectors/heap-trend.js'
import { createMongoCollector } from './collectors/mongo/index.js'
import { createProcessCollector } from './collectors/process.js'
import { RecentRequests } from './collectors/recent.js'
import { createSystemCollector } from './collectors/system.js'
import { createAlerting } from './alerts/index.js'
import { createGcCollector } from './collectors/gc.js'
import { failureLogger, type Collector } from './collectors/types.js'
import { loggableError } from './error-text.js'
import { CustomHistory } from './custom/history.js'
import { CustomMetrics } from './custom/registry.js'
import { formatUptime } from './format.js'
import { History } from './history.js'
import { HISTORY_RANGES, SERIES, type HistoryPoint, type HistoryRange } from './schemas/history.js'
import type { NormalizedOptions } from './options.js'
import { createBreakdown } from './breakdown/index.js'
import { addBreakdown } from './breakdown/snapshot.js'
import { RequestMetrics } from './requests/store.js'
import { Sampler } from './sampler.js'
import type { AlertsView } from './schemas/alerts.js'
import type { DatabaseSnapshot } from './schemas/database.js'
import type { CheckResult, HealthSnapshot } from './schemas/health.js'
import { fleetApplication } from './shared/application.js'
import type { Gauges as SharedGauges } from './shared/state.js'
import { worstStatus as worst } from './shared/store.js'
import { createSharedWatch } from './shared/watch.js'

export type HealthStatus = HealthSnapshot['status']
export type SampledSnapshot = Omit<HealthSnapshot, 'application' | 'custom'>

/**
 * unhealthy when a required check or a required database fails, or an alert of that severity fires; degraded when
 * only optional ones fail or a degraded alert fires. A check with no result yet (`pending`) counts as failing:
 * nothing is reported healthy before it has been seen to pass.
 */
export function healthStatus (checks: Record<string, CheckResult>, database: DatabaseSnapshot, alerts: HealthStatus = 'healthy'): HealthStatus {
  if (alerts === 'unhealthy') return alerts
  let status: HealthStatus = alerts
  const failures = Object.values(checks).filter((check) => check.status !== 'pass')
  if (database.status === 'unhealthy') failures.push({ required: database.required !== false } as CheckResult)
  for (const failure of failures) {
    if (failure.required) return 'unhealthy'
    status = 'degraded'
  }
  return status
}

const NOT_CONFIGURED: Collector<DatabaseSnapshot> = {
  sample () {},
  read: () => ({ status: 'not_configured' }),
  close () {}
}

/**
 * Everything the plugin knows, independent of Fastify's routing, in three parts: the collectors (and the request
 * store that the hooks feed), the sample step that the sampling loop runs, and the read model that /health, the
 * dashboard, /metrics and the OpenTelemetry export all render from.
 */
export function createWatch (options: NormalizedOptions, log: FastifyBaseLogger, fastifyVersion: string) {
  const startedAt = Date.now()
  const requests = new RequestMetrics(options.maxRoutes, options.maxRecentErrors, options.maxErrorMessageLength)
  // Once: a container's limits are set when it starts.
  const limits = readCgroupLimits()
  const processMemory = createProcessCollector(log, limits)
  const cpu = createCpuCollector(limits)
  // The sampler's own wake-up serves as one of the event-loop timer's (declared below; read from the first tick on).
  const eventLoop = createEventLoopCollector(undefined, () => sampler.nextDueAt())
  const system = createSystemCollector(log)
  const heapTrend = createHeapTrendCollector()
  const checks = createChecksCollector(options.checks)
  const database = options.mongo === null
    ? NOT_CONFIGURED
    : createMongoCollector(options.mongo.client, {
      timeoutMs: options.checkTimeoutMs,
      required: options.mongo.required,
      serverStatusIntervalMs: options.mongo.serverStatusIntervalMs,
      log
    })
  // Only /metrics reads garbage collections: without it, no observer.
  const gc = options.metricsPath === false ? null : createGcCollector()
  // Where the time goes (docs/breakdown.md): null when off, and then nothing of it exists.
  const breakdown = options.breakdown === null
    ? null
    : createBreakdown(options.breakdown, { mongo: options.mongo?.client ?? null, maxRoutes: options.maxRoutes, log })
  const collectors: Array<Collector<unknown>> = [processMemory, cpu, eventLoop, system, heapTrend, checks, database]
  if (gc !== null) collectors.push(gc)
  // This process's own history: its request rate (and, without `shared`, the dashboard's charts).
  const history = new History(requests, options.sampleIntervalMs, startedAt)
  // Shared mode: the charts are the fleet's, read back from the shared directory at start, and kept there.
  const shared = options.shared === null
    ? null
    : createSharedWatch({ ...options, shared: options.shared, log: { warn: (msg: string) => log.warn(msg) } })
  const fleetHistory = shared === null ? history : new History(shared.totals, options.sampleIntervalMs, startedAt)
  const historyRanges = Object.keys(HISTORY_RANGES) as HistoryRange[]
  shared?.restore(fleetHistory, historyRanges, SERIES)
  const listeners = new Set<(point: HistoryPoint) => void>()
  const recent = new RecentRequests({
    get total () { return requests.total },
    get errorCount () { return requests.errorCount },
    histogram: () => requests.histogram
  })
  const identity = { hostname: hostname(), pid: process.pid }
  const custom = new CustomMetrics(log)
  const customHistory = new CustomHistory(custom, options.sampleIntervalMs)
  const alerts = options.alerts === null
    ? null
    : createAlerting(options.alerts, identity, {
      parts: {
        application: applicationFigures,
        eventLoop: () => eventLoop.read(),
        memory: memoryFigures,
        cpu: () => cpu.read(),
        database: () => database.read(),
        checks: () => checks.read()
      },
      sampled,
      endpoint: (key) => requests.endpoints.get(key)
    }, log)
  /** When the last sample finished (null before the first): readiness, and the time of health+json's figures. */
  let sampledAt: number | null = null

  // The sample step.
  /** One sample: every collector (they never throw: see Collector), then what is derived from them. */
  async function sampleOnce (): Promise<void> {
    // A collector that samples synchronously (most do, most of the time) costs no promise and no microtask: on an
    // idle server those were a good part of a sample's cost (benchmark/README.md).
    const pending: Array<Promise<void>> = []
    for (const collector of collectors) {
      const waiting = collector.sample()
      if (waiting !== undefined) pending.push(waiting)
    }
    if (pending.length > 0) await Promise.all(pending)
    custom.sample()
    const now = Date.now()
    requests.tick(now)
    recent.tick(now)
    const memory = processMemory.read()
    const read = database.read()
    const db = read.status === 'not_configured' ? null : read
    const gauges = {
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      systemMemoryPercent: system.read().percent,
      cpuProcessPercent: cpu.read().processPercent,
      cpuSystemPercent: cpu.read().systemPercent,
      eventLoopDelayP99Ms: eventLoop.read().delayMs.p99,
      eventLoopUtilization: eventLoop.read().utilization,
      dbPingMs: db?.pingMs ?? null,
      dbPoolInUse: db?.pool.inUse ?? null,
      dbCommandP95Ms: db?.commands.recentP95Ms ?? null
    }
    // Before the alerts: a rule on requestsPerSecond reads the rate with this sample in it.
    let point = history.record(now, gauges)
    if (shared !== null) {
      // The fleet: this process's file written, the others' read; their memory summed, the worst loop. The directory
      // may fail at run time (removed, read-only): the rest of the sample (alerts, the live stream) goes on.
      let fleet: SharedGauges
      try {
        fleet = shared.sample(localSample(now)).gauges
        sharedFailures.recovered()
      } catch (error) {
        sharedFailures.failed(error)
        return finishSample(now, point)
      }
      point = fleetHistory.record(now, {
        ...gauges,
        rss: fleet.rss,
        heapUsed: fleet.heapUsed,
        heapTotal: fleet.heapTotal,
        external: fleet.external,
        cpuProcessPercent: fleet.cpuProcessPercent,
        eventLoopDelayP99Ms: fleet.eventLoopDelayP99Ms,
        eventLoopUtilization: fleet.eventLoopUtilization
      })
      try {
        shared.persist(fleetHistory, historyRanges)
      } catch (error) {
        sharedFailures.failed(error)
      }
    }
    finishSample(now, point)
  }
  const sharedFailures = failureLogger(log, 'the shared directory')

  function finishSample (now: number, point: HistoryPoint): void {
    alerts?.evaluate(now)
    customHistory.record(now)
    sampledAt = now
    for (const listener of listeners) {
      try {
        listener(point)
      } catch (error) {
        log.warn({ err: loggableError(error) }, 'server-watch: a sample listener failed')
      }
    }
  }
  const sampler = new Sampler(options.sampleIntervalMs, sampleOnce, log)

  /** What this process puts in the shared directory on each sample (and on close). */
  function localSample (now: number) {
    const memory = processMemory.read()
    const loop = eventLoop.read()
    const gauges: SharedGauges = {
      inFlight: Math.max(0, requests.inFlight),
      requestsPerSecond: history.requestsPerSecond(now),
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      cpuProcessPercent: cpu.read().processPercent,
      eventLoopDelayP99Ms: loop.delayMs.p99,
      eventLoopUtilization: loop.utilization
    }
    return {
      counts: requests,
      status: healthStatus(checks.read(), database.read(), alerts?.engine.status()),
      gauges,
      recentErrors: requests.recentErrorList(),
      p95Ms: requests.histogram.percentile(0.95)
    }
  }

  // The read model.

  /** Everything the sampling loop measured, without the per-endpoint figures: what /metrics reads. */
  function sampled (now = Date.now()): SampledSnapshot {
    const checkResults = checks.read()
    const db = database.read()
    const uptimeSeconds = Math.floor(process.uptime())
    return {
      status: healthStatus(checkResults, db, alerts?.engine.status()),
      timestamp: new Date(now).toISOString(),
      uptime: { seconds: uptimeSeconds, formatted: formatUptime(uptimeSeconds) },
      instance: {
        hostname: hostname(),
        pid: process.pid,
        nodeVersion: process.version,
        fastifyVersion,
        platform: `${process.platform} ${process.arch}`,
        startedAt: new Date(startedAt).toISOString()
      },
      database: db,
      checks: checkResults,
      memory: memoryFigures(),
      cpu: cpu.read(),
      eventLoop: eventLoop.read(),
      alerts: alerts?.engine.active() ?? []
    }
  }

  function memoryFigures () {
    return { process: { ...processMemory.read(), heapTrend: heapTrend.read() }, system: system.read() }
  }

  /** The application's figures without the per-endpoint table: what alert rules read. */
  function applicationFigures (now: number) {
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

  function snapshot (): HealthSnapshot {
    const now = Date.now()
    const { totalRequests, errorCount, errorRate, averageResponseTimeMs, responseTimeMs, ...rest } = requests.snapshot(now)
    const requestsPerSecond = history.requestsPerSecond(now)
    const own: HealthSnapshot = {
      ...sampled(now),
      application: { totalRequests, errorCount, errorRate, averageResponseTimeMs, responseTimeMs, requestsPerSecond, ...rest, recent: recent.read() },
      custom: custom.snapshot()
    }
    // This process's calls; in shared mode the endpoints below are the fleet's, which carry no breakdown.
    if (breakdown !== null) addBreakdown(own, breakdown)
    const view = shared?.view()
    if (view == null) return own
    // Shared mode: the requests are the fleet's, and so is the status (the worst live process's).
    return {
      ...own,
      status: worst(own.status, view.status),
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
  }

  function ownStatus (): HealthStatus {
    return healthStatus(checks.read(), database.read(), alerts?.engine.status())
  }

  return {
    /** The request store: the hooks write it; readers get it as a RequestsView. */
    requests,
    /** Shared mode (lib/shared/), or null: the fleet's view, each process's recent figures. */
    shared,
    /** The app's own metrics (app.serverWatch.counter, gauge, histogram). */
    custom,
    /** With `breakdown`: its hooks, figures and OpenTelemetry source; null when off. */
    breakdown,
    /** The custom metrics' figures over the last five minutes, one point per sample. */
    customHistory: () => customHistory.query(),
    /** What the dashboard charts: the fleet's history in shared mode, else this process's. */
    history: fleetHistory,
    snapshot,
    sampled,
    /** When the last sample finished, or null before the first: /health/ready fails until then. */
    sampledAt: () => sampledAt,
    /** Every V8 heap space as last sampled, for /metrics (the snapshot keeps the five largest). */
    heapSpaces: processMemory.heapSpaces,
    /** Garbage collections by kind, or null when /metrics is off. */
    gc: () => gc?.read() ?? null,
    /** The overall status alone, without building the snapshot (in shared mode the fleet's worst): what /health gives everyone. */
    status: () => worst(ownStatus(), shared?.view()?.status ?? 'healthy'),
    /**
     * This process's status alone, whatever the fleet's: what readiness reads, so that one unhealthy worker (or
     * container sharing the directory) takes itself out of the load balancer, not every other one.
     */
    ownStatus,
    /** The alert rules' engine, or null when `alerts: false`. */
    alerts: alerts?.engine ?? null,
    alertsView: (): AlertsView => alerts?.engine.view() ?? { active: [], rules: [], transitions: [] },
    /** A sample that starts after the call (the next one if one is in flight); the loop goes on as before. */
    sample: () => sampler.fresh(),
    onSample (listener: (point: HistoryPoint) => void): () => void {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    start: () => sampler.start(),
    close (): void {
      // The requests since the last sample, and the history if this process keeps it: a reload loses no counts.
      if (shared !== null) {
        try {
          shared.close(localSample(Date.now()), fleetHistory, historyRanges)
        } catch (error) {
          log.warn({ err: loggableError(error) }, 'server-watch: the last write to the shared directory failed')
        }
      }
      sampler.close()
      listeners.clear()
      for (const collector of collectors) collector.close()
      alerts?.close()
      breakdown?.stop()
    }
  }
}

export type Watch = ReturnType<typeof createWatch>
