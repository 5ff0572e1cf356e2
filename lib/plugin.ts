// First, for its side effect: it keeps one process.nextTick object alive from the plugin's import on (see the file).
import './requests/next-tick-shape.js'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import fp from 'fastify-plugin'
import { closedWarning, createAccess } from './access/index.js'
import type { NormalizedRule } from './alerts/rules.js'
import { createShedding } from './alerts/shedding.js'
import { createRequestHooks } from './requests/hooks.js'
import type { HistoryRange, HistoryResponse, HistoryPoint } from './history.js'
import { normalizeOptions, type ServerWatchOptions } from './options.js'
import { registerDashboard } from './routes/dashboard.js'
import { registerHealth } from './routes/health.js'
import { registerMetrics } from './routes/metrics.js'
import { hideUndocumented } from './routes/openapi.js'
import type { AlertsView } from './schemas/alerts.js'
import { registerProfiles } from './routes/profiles.js'
import type { HealthSnapshot } from './schemas/health.js'
import { createWatch } from './watch.js'
import { exportOpenTelemetry, exportRequestDurations } from './otel/export.js'
import type { CounterMetric } from './custom/counter.js'
import type { GaugeMetric } from './custom/gauge.js'
import type { HistogramMetric } from './custom/histogram.js'
import type { GaugeOptions, MetricOptions } from './custom/registry.js'

export interface ServerWatch {
  /** Exactly what `GET /health` serves to an authorised caller. */
  snapshot (): HealthSnapshot
  /** The overall status alone: cheap, no snapshot built. */
  status (): HealthSnapshot['status']
  /** The dashboard's history series at one resolution. */
  history (range: HistoryRange): HistoryResponse
  /**
   * Takes a sample now instead of waiting for the loop, and resolves when it is done. It starts after the call, so
   * what you did before is in it (a sample already in flight is followed by a new one); concurrent callers share one.
   */
  refresh (): Promise<void>
  /** The alert rules with their thresholds, the firing ones, and recent transitions (empty with `alerts: false`). */
  alerts (): AlertsView
  /** Called after every sample with its history point; returns the function that unsubscribes. */
  onSample (listener: (point: HistoryPoint) => void): () => void
  /** A custom counter: `counter('orders_total').inc()`. The same name and options return the same metric. */
  counter (name: string, options?: MetricOptions): CounterMetric
  /** A custom gauge: `.set(v)`, `.inc()`, `.dec()`, or `{ collect: () => number }` read on the sampling loop. */
  gauge (name: string, options?: GaugeOptions): GaugeMetric
  /** A custom histogram of durations in milliseconds: `.observe(ms)`; seconds in /metrics. */
  histogram (name: string, options?: MetricOptions): HistogramMetric
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Read-only: the plugin's live figures and custom metrics. */
    readonly serverWatch: Readonly<ServerWatch>
  }
  interface FastifyContextConfig {
    /**
     * `false`: this route is not counted in the application metrics (nor shed). `{ shed: false }`: counted, but
     * never refused by load shedding.
     */
    serverWatch?: boolean | { shed?: boolean }
  }
}

/**
 * A rule on one route whose route does not exist would never fire: said once the routes are known. Routes are
 * collected as they are added (the keys endpoints use), only when a rule names one.
 */
function warnOfUnknownRoutes (app: FastifyInstance, rules: readonly NormalizedRule[]): void {
  const named = rules.filter((rule) => rule.path.kind === 'endpoint')
  if (named.length === 0) return
  const routes = new Set<string>()
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.add(`${method} ${route.url}`)
  })
  app.addHook('onReady', (done) => {
    for (const rule of named) {
      const key = (rule.path as { key: string }).key
      if (!routes.has(key)) app.log.warn(`server-watch: alert rule "${rule.name}" names "${key}", which is no route of this app: it cannot fire`)
    }
    done()
  })
}

const serverWatchPlugin: FastifyPluginAsync<ServerWatchOptions> = async (app, rawOptions) => {
  const options = normalizeOptions(rawOptions)
  // onTimeout fires only when the server has a connectionTimeout (Fastify's default is 0: never), and the hook
  // costs every request an object and the socket a listener: without a timeout it would count nothing.
  const countsTimeouts = app.initialConfig.connectionTimeout! > 0
  const durations = options.openTelemetry === null ? null : exportRequestDurations(options.openTelemetry.meterProvider)
  // Every figure comes from here: the collectors in lib/watch/sources.ts, the request store the hooks below feed
  // (lib/requests/store.ts), the rest in lib/watch/compose.ts; docs/ARCHITECTURE.md maps each one to its file.
  const watch = createWatch(options, { log: app.log, fastifyVersion: app.version, countsTimeouts, recordObserver: durations?.observer ?? null })
  const http2 = Boolean(app.initialConfig.http2)
  const shedding = watch.alerts !== null && options.alerts!.rules.some((rule) => rule.shed) ? createShedding(app, watch.alerts, options.alerts!) : null
  const hooks = createRequestHooks(watch.requests, { http2, shedding, settled: watch.breakdown?.hooks.settle ?? null, errorGroups: watch.errorRecorder })

  app.addHook('onRequest', hooks.onRequest)
  app.addHook('onSend', hooks.onSend)
  app.addHook('onError', hooks.onError)
  if (countsTimeouts) app.addHook('onTimeout', hooks.onTimeout)
  // Off by default, and then nothing of it exists: no hook, no AsyncLocalStorage, no listener (docs/breakdown.md).
  const breakdown = watch.breakdown
  if (breakdown !== null) {
    app.addHook('onRequest', breakdown.hooks.onRequest)
    breakdown.start()
  }

  app.decorate('serverWatch', Object.freeze({
    snapshot: watch.snapshot,
    status: watch.status,
    history: (range: HistoryRange) => watch.history.query(range),
    refresh: watch.sample,
    alerts: watch.alertsView,
    onSample: watch.onSample,
    counter: watch.custom.counter,
    gauge: watch.custom.gauge,
    histogram: watch.custom.histogram
  }))

  warnOfUnknownRoutes(app, options.alerts?.rules ?? [])
  app.addHook('onReady', (done) => { watch.start(); done() })
  app.addHook('onClose', (_instance, done) => { watch.close(); done() })
  if (options.openTelemetry !== null) {
    const stopExport = exportOpenTelemetry(options.openTelemetry.meterProvider, { ...watch, mongoClient: options.mongo?.client ?? null, outbound: watch.breakdown?.outboundCalls ?? null })
    app.addHook('onClose', (_instance, done) => {
      stopExport()
      durations!.stop()
      done()
    })
  }

  const access = createAccess({ ...options, log: app.log })
  app.addHook('onClose', (_instance, done) => { access.close(); done() })
  const warning = closedWarning(options)
  if (warning !== '') app.log.warn(warning)

  // fastify-plugin puts this plugin in its parent's context, where Fastify ignores `prefix`: our routes get a
  // child context of their own that honours it (and keeps our hooks, if any, to our routes).
  await app.register(async function serverWatchRoutes (routes: FastifyInstance) {
    routes.addHook('onRoute', hideUndocumented(options.openapi))
    if (options.healthPath !== false) registerHealth(routes, { watch, healthPath: options.healthPath, access })
    if (options.dashboardPath !== false) {
      registerDashboard(routes, { watch, dashboardPath: options.dashboardPath, healthPath: options.healthPath, access, maxStreams: options.maxStreams, profiles: options.profiles })
      if (options.profiles) registerProfiles(routes, { ...options, dashboardPath: options.dashboardPath, access })
    }
    if (options.metricsPath !== false) registerMetrics(routes, { watch, metricsPath: options.metricsPath, access, prometheus: options.prometheus, shared: options.shared !== null })
  }, { prefix: rawOptions?.prefix })
}

export const serverWatch = fp(serverWatchPlugin, {
  fastify: '5.x',
  name: 'fastify-server-watch'
})

export default serverWatch

export * from './errors.js'
export type { OpenTelemetryOptions, OtelMeterProvider } from './otel/types.js'
export type { PrometheusOptions } from './prometheus/relabel.js'
export type { ServerWatchOptions, HealthCheck, MongoWatchOptions, Authorize } from './options.js'
export type { BreakdownOptions } from './breakdown/options.js'
export type { CallFigures, SlowQuery, NPlusOnePattern, HostFigures, OutboundSnapshot } from './schemas/breakdown.js'
export type { SharedOptions } from './shared/config.js'
export type { ProcessRow } from './schemas/processes.js'
export type { AlertRule, AlertsOptions, WebhookOptions } from './alerts/rules.js'
export type { Alert, AlertEvent, AlertsView } from './schemas/alerts.js'
export type { AnyAlertEvent, ErrorNewEvent, ErrorGroupSnapshot, ReleasesSnapshot, ReleaseComparison, ApdexSnapshot } from './schemas/errors.js'
export { DEFAULT_RULES } from './alerts/rules.js'
export type { HealthSnapshot, ApplicationSnapshot, EndpointSnapshot, RecentError, RecentRequests, CheckResult, SlowRequest, HeapTrend } from './schemas/health.js'
export type { LastCapture, CaptureKind } from './profiles/profiler.js'
export type { CpuSummary, AllocationSummary, FunctionCost } from './profiles/summary.js'
export type { CounterMetric } from './custom/counter.js'
export type { GaugeMetric } from './custom/gauge.js'
export type { HistogramMetric } from './custom/histogram.js'
export type { GaugeOptions, MetricOptions } from './custom/registry.js'
export type { Labels } from './custom/series.js'
export type { CustomMetricsSnapshot } from './schemas/custom.js'
export type { DatabaseSnapshot, WatchedDatabaseSnapshot } from './schemas/database.js'
export type { MongoClientLike } from './collectors/mongo/client-types.js'
export type { HistoryRange, HistoryResponse, HistoryPoint, SeriesName } from './history.js'
export { HealthSnapshotSchema } from './schemas/health.js'
