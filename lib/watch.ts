import { hostname } from 'node:os'
import type { FastifyBaseLogger } from 'fastify'
import { readCgroupLimits } from './collectors/cgroup.js'
import { createChecksCollector } from './collectors/checks.js'
import { createCpuCollector } from './collectors/cpu.js'
import { createEventLoopCollector } from './collectors/event-loop.js'
import { createHeapTrendCollector } from './collectors/heap-trend.js'
import { createMongoCollector } from './collectors/mongo/index.js'
import { createProcessCollector } from './collectors/process.js'
import { RequestMetrics } from './collectors/requests.js'
import { RecentRequests } from './collectors/recent.js'
import { createSystemCollector } from './collectors/system.js'
import { AlertEngine } from './alerts/engine.js'
import { readPath } from './alerts/metric-path.js'
import type { NormalizedRule } from './alerts/rules.js'
import { createWebhook } from './alerts/webhook.js'
import { failureLogger, type Collector } from './collectors/types.js'
import { loggableError } from './error-text.js'
import { CustomHistory } from './custom/history.js'
import { CustomMetrics } from './custom/registry.js'
import { formatUptime } from './format.js'
import { Histogram } from './histogram.js'
import { History, HISTORY_RANGES, SERIES, type HistoryPoint, type HistoryRange } from './history.js'
import type { NormalizedOptions } from './options.js'
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

const EMPTY_HISTOGRAM = new Histogram()

const NOT_CONFIGURED: Collector<DatabaseSnapshot> = {
  sample () {},
  read: () => ({ status: 'not_configured' }),
  close () {}
}

/**
 * Everything the plugin knows, independent of Fastify's routing: the request metrics that the hooks feed, the
 * collectors that the sampling loop feeds, the history, and the snapshot that /health serves.
 */
export function createWatch (options: NormalizedOptions, log: FastifyBaseLogger, fastifyVersion: string) {
  const startedAt = Date.now()
  const requests = new RequestMetrics(options.maxRoutes, options.maxRecentErrors, options.maxErrorMessageLength, options.sampleIntervalMs)
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
  const collectors: Array<[string, Collector<unknown>]> = [
    ['process', processMemory], ['cpu', cpu], ['event loop', eventLoop], ['system memory', system],
    ['heap trend', heapTrend],
    ['checks', checks], ['database', database]
  ]
  // A collector that samples synchronously (most do, most of the time) costs no promise and no microtask: on an
  // idle server those were a good part of a sample's cost (benchmark/README.md).
  const guarded = collectors.map(([name, collector]) => {
    const failures = failureLogger(log, `the ${name} collector`)
    return (): Promise<void> | undefined => {
      try {
        const pending = collector.sample() as Promise<void> | undefined
        if (pending === undefined) {
          failures.recovered()
          return undefined
        }
        return pending.then(failures.recovered, failures.failed)
      } catch (error) {
        failures.failed(error)
        return undefined
      }
    }
  })
  // Shared mode: the history is the fleet's, read from the shared directory, and kept there.
  const shared = options.shared === null
    ? null
    : createSharedWatch({ ...options, shared: options.shared, log: { warn: (msg: string) => log.warn(msg) } })
  const history = new History(shared?.totals ?? requests, options.sampleIntervalMs, startedAt)
  const historyRanges = Object.keys(HISTORY_RANGES) as HistoryRange[]
  shared?.restore(history, historyRanges, SERIES)
  const listeners = new Set<(point: HistoryPoint) => void>()
  const recent = new RecentRequests({
    get total () { return requests.total },
    get errorCount () { return requests.errorCount },
    histogram: () => requests.histogram
  })
  const identity = { hostname: hostname(), pid: process.pid }
  const custom = new CustomMetrics(log)
  const customHistory = new CustomHistory(custom, options.sampleIntervalMs)
  const alerts = options.alerts === null ? null : createAlerting(options.alerts, identity)

  /** The rules, their per-route windows, and where their transitions go. */
  function createAlerting (config: NonNullable<NormalizedOptions['alerts']>, who: typeof identity) {
    const engine = new AlertEngine(config.rules, who)
    const webhook = config.webhook === null ? null : createWebhook(config.webhook, log)
    // A rule on one route reads that route over the last minute, like application.recent.
    const routeWindows = new Map<NormalizedRule, RecentRequests>()
    for (const rule of config.rules) {
      if (rule.path.kind !== 'endpoint') continue
      const key = rule.path.key
      const endpoint = () => requests.endpoints.get(key)
      routeWindows.set(rule, new RecentRequests({
        get total () { return endpoint()?.count ?? 0 },
        get errorCount () { return endpoint()?.errorCount ?? 0 },
        histogram: () => endpoint()?.combined() ?? EMPTY_HISTOGRAM
      }))
    }
    // Only the parts of the snapshot that some rule reads are built on each sample (the default rules read the
    // event loop and the heap): the whole snapshot and the application's percentiles are not.
    const parts = new Set(config.rules.flatMap((rule) => rule.path.kind === 'path' ? [rule.path.segments[0]!] : []))
    const readers: Record<string, (now: number) => unknown> = {
      application: applicationFigures,
      eventLoop: () => eventLoop.read(),
      memory: memoryFigures,
      cpu: () => cpu.read(),
      database: () => database.read(),
      checks: () => checks.read()
    }
    const partReaders = [...parts].map((part) => [part, readers[part] ?? ((now: number) => (sampled(now) as Record<string, unknown>)[part])] as const)
    function evaluate (now: number): void {
      for (const window of routeWindows.values()) window.tick(now)
      const figures: Record<string, unknown> = {}
      for (const [part, read] of partReaders) figures[part] = read(now)
      const events = engine.evaluate(now, (rule) => {
        if (rule.path.kind === 'path') return readPath(figures, rule.path.segments)
        const window = routeWindows.get(rule)!.read()
        return rule.path.field === 'errorRate' ? window.errorRate : window.responseTimeMs[rule.path.field]
      })
      for (const event of events) {
        log[event.type === 'fired' ? 'warn' : 'info']({ alert: event }, `server-watch: alert ${event.name} ${event.type}`)
        webhook?.send(event)
        if (config.onAlert !== null) {
          // A throw and an async onAlert's rejection alike are logged, never left unhandled.
          const onAlert = config.onAlert
          Promise.resolve().then(() => onAlert(event)).catch((error: unknown) => {
            log.warn({ err: loggableError(error) }, 'server-watch: onAlert failed')
          })
        }
      }
    }
    return { engine, evaluate, close: () => webhook?.close() }
  }

  async function sampleOnce (): Promise<void> {
    const pending: Array<Promise<void>> = []
    for (const sample of guarded) {
      const waiting = sample()
      if (waiting !== undefined) pending.push(waiting)
    }
    if (pending.length > 0) await Promise.all(pending)
    custom.sample()
    const now = Date.now()
    requests.tick(now)
    recent.tick(now)
    alerts?.evaluate(now)
    customHistory.record(now)
    const db = database.read()
    const own = ownGauges(now)
    // The fleet's figures where several processes share the directory: their memory summed, the worst loop.
    const figures = shared === null ? own : shared.sample(localSample(own)).gauges
    const point = history.record(now, {
      rss: figures.rss,
      heapUsed: figures.heapUsed,
      heapTotal: figures.heapTotal,
      external: figures.external,
      systemMemoryPercent: system.read().percent,
      cpuProcessPercent: figures.cpuProcessPercent,
      cpuSystemPercent: cpu.read().systemPercent,
      eventLoopDelayP99Ms: figures.eventLoopDelayP99Ms,
      eventLoopUtilization: figures.eventLoopUtilization,
      dbPingMs: db.pingMs ?? null,
      dbPoolInUse: db.pool?.inUse ?? null,
      dbCommandP95Ms: db.commands?.recentP95Ms ?? null
    })
    shared?.persist(history, historyRanges)
    for (const listener of listeners) {
      try {
        listener(point)
      } catch (error) {
        log.warn({ err: loggableError(error) }, 'server-watch: a sample listener failed')
      }
    }
  }
  const sampler = new Sampler(options.sampleIntervalMs, sampleOnce, log)

  function ownGauges (now: number): SharedGauges {
    const memory = processMemory.read()
    const loop = eventLoop.read()
    return {
      inFlight: Math.max(0, requests.inFlight),
      requestsPerSecond: requests.requestsPerSecond(now),
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      cpuProcessPercent: cpu.read().processPercent,
      eventLoopDelayP99Ms: loop.delayMs.p99,
      eventLoopUtilization: loop.utilization
    }
  }

  /** What this process puts in the shared directory on each sample. */
  function localSample (gauges: SharedGauges) {
    return {
      counts: requests,
      status: healthStatus(checks.read(), database.read(), alerts?.engine.status()),
      gauges,
      recentErrors: requests.recentErrorList(),
      p95Ms: requests.histogram.percentile(0.95)
    }
  }

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
      requestsPerSecond: requests.requestsPerSecond(now),
      inFlight: Math.max(0, requests.inFlight),
      shed: requests.shed,
      aborted: requests.aborted,
      timedOut: requests.timedOut,
      recent: recent.read()
    }
  }

  function snapshot (): HealthSnapshot {
    const now = Date.now()
    const own = { ...sampled(now), application: { ...requests.snapshot(now), recent: recent.read() }, custom: custom.snapshot() }
    const view = shared?.view()
    if (view == null) return own
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

  return {
    requests,
    /** Shared mode (lib/shared/), or null: the fleet's view, each process's recent figures. */
    shared,
    /** The app's own metrics (app.serverWatch.counter, gauge, histogram). */
    custom,
    /** The custom metrics' figures over the last five minutes, one point per sample. */
    customHistory: () => customHistory.query(),
    history,
    snapshot,
    sampled,
    /** The overall status alone, without building the snapshot: what probes and unauthorised callers get. */
    status: () => worst(healthStatus(checks.read(), database.read(), alerts?.engine.status()), shared?.view()?.status ?? 'healthy'),
    /** The alert rules' engine, or null when `alerts: false`. */
    alerts: alerts?.engine ?? null,
    alertsView: (): AlertsView => alerts?.engine.view() ?? { active: [], rules: [], transitions: [] },
    /** Takes a sample now (sharing one in flight); the loop goes on as before. */
    sample: () => sampler.sample(),
    onSample (listener: (point: HistoryPoint) => void): () => void {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    start: () => sampler.start(),
    close (): void {
      // The requests since the last sample, and the history if this process keeps it: a reload loses no counts.
      if (shared !== null) {
        try {
          shared.close(localSample(ownGauges(Date.now())), history, historyRanges)
        } catch (error) {
          log.warn({ err: loggableError(error) }, 'server-watch: the last write to the shared directory failed')
        }
      }
      sampler.close()
      listeners.clear()
      for (const [, collector] of collectors) collector.close()
      alerts?.close()
    }
  }
}

export type Watch = ReturnType<typeof createWatch>
