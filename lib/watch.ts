import { hostname } from 'node:os'
import type { FastifyBaseLogger } from 'fastify'
import { createChecksCollector } from './collectors/checks.js'
import { createCpuCollector } from './collectors/cpu.js'
import { createEventLoopCollector } from './collectors/event-loop.js'
import { createHeapTrendCollector } from './collectors/heap-trend.js'
import { createMongoCollector } from './collectors/mongo/index.js'
import { createProcessCollector } from './collectors/process.js'
import { RequestMetrics } from './collectors/requests.js'
import { createSystemCollector } from './collectors/system.js'
import { failureLogger, type Collector } from './collectors/types.js'
import { formatUptime } from './format.js'
import { History, type HistoryPoint } from './history.js'
import type { NormalizedOptions } from './options.js'
import { Sampler } from './sampler.js'
import type { DatabaseSnapshot } from './schemas/database.js'
import type { CheckResult, HealthSnapshot } from './schemas/health.js'

export type HealthStatus = HealthSnapshot['status']
export type SampledSnapshot = Omit<HealthSnapshot, 'application'>

/** unhealthy when a required check or a required database fails; degraded when only optional ones do. */
export function healthStatus (checks: Record<string, CheckResult>, database: DatabaseSnapshot): HealthStatus {
  let status: HealthStatus = 'healthy'
  const failures = Object.values(checks).filter((check) => check.status === 'fail')
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
 * Everything the plugin knows, independent of Fastify's routing: the request metrics that the hooks feed, the
 * collectors that the sampling loop feeds, the history, and the snapshot that /health serves.
 */
export function createWatch (options: NormalizedOptions, log: FastifyBaseLogger, fastifyVersion: string) {
  const startedAt = Date.now()
  const requests = new RequestMetrics(options.maxRoutes, options.maxRecentErrors, options.maxErrorMessageLength, options.sampleIntervalMs)
  const processMemory = createProcessCollector(log)
  const cpu = createCpuCollector()
  const eventLoop = createEventLoopCollector()
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
  const guarded = collectors.map(([name, collector]) => {
    const failures = failureLogger(log, `the ${name} collector`)
    return () => Promise.resolve().then(() => collector.sample()).then(failures.recovered, failures.failed)
  })
  const history = new History(requests, options.sampleIntervalMs, startedAt)
  const listeners = new Set<(point: HistoryPoint) => void>()

  async function sampleOnce (): Promise<void> {
    await Promise.all(guarded.map((sample) => sample()))
    const now = Date.now()
    requests.tick(now)
    const memory = processMemory.read()
    const db = database.read()
    const point = history.record(now, {
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      systemMemoryPercent: system.read().percent,
      cpuProcessPercent: cpu.read().processPercent,
      cpuSystemPercent: cpu.read().systemPercent,
      eventLoopDelayP99Ms: eventLoop.read().delayMs.p99,
      eventLoopUtilization: eventLoop.read().utilization,
      dbPingMs: db.pingMs ?? null,
      dbPoolInUse: db.pool?.inUse ?? null,
      dbCommandP95Ms: db.commands?.recentP95Ms ?? null
    })
    for (const listener of listeners) {
      try {
        listener(point)
      } catch (error) {
        log.warn({ err: error }, 'server-watch: a sample listener failed')
      }
    }
  }
  const sampler = new Sampler(options.sampleIntervalMs, sampleOnce)

  /** Everything the sampling loop measured, without the per-endpoint figures: what /metrics reads. */
  function sampled (now = Date.now()): SampledSnapshot {
    const checkResults = checks.read()
    const db = database.read()
    const uptimeSeconds = Math.floor(process.uptime())
    return {
      status: healthStatus(checkResults, db),
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
      memory: { process: { ...processMemory.read(), heapTrend: heapTrend.read() }, system: system.read() },
      cpu: cpu.read(),
      eventLoop: eventLoop.read()
    }
  }

  function snapshot (): HealthSnapshot {
    const now = Date.now()
    return { ...sampled(now), application: requests.snapshot(now) }
  }

  return {
    requests,
    history,
    snapshot,
    sampled,
    /** The overall status alone, without building the snapshot: what probes and unauthorised callers get. */
    status: () => healthStatus(checks.read(), database.read()),
    /** Takes a sample now (sharing one in flight); the loop goes on as before. */
    sample: () => sampler.sample(),
    onSample (listener: (point: HistoryPoint) => void): () => void {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    },
    start: () => sampler.start(),
    close (): void {
      sampler.close()
      listeners.clear()
      for (const [, collector] of collectors) collector.close()
    }
  }
}

export type Watch = ReturnType<typeof createWatch>
