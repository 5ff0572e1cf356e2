import { hostname } from 'node:os'
import type { FastifyBaseLogger } from 'fastify'
import { AlertEngine } from '../alerts/engine.js'
import { createAlerting } from '../alerts/index.js'
import { RecentRequests } from '../collectors/recent.js'
import { CustomHistory } from '../custom/history.js'
import { CustomMetrics } from '../custom/registry.js'
import { History } from '../history.js'
import type { NormalizedOptions } from '../options.js'
import { RequestMetrics, type RecordObserver } from '../requests/store.js'
import { Sampler, SamplerClock } from '../sampler.js'
import { createSharedFleet } from '../shared/watch.js'
import type { Watch } from '../watch.js'
import { singleProcess, type Fleet } from './fleet.js'
import { ReadModel } from './read-model.js'
import { SampleStep } from './sample.js'
import { createSources } from './sources.js'
import { createErrorsAndReleases } from '../error-groups/wiring.js'
import { createBreakdown } from '../breakdown/index.js'

export interface WatchContext {
  log: FastifyBaseLogger
  fastifyVersion: string
  /** The server has a `connectionTimeout`: the plugin adds its onTimeout hook, and timeouts are counted. */
  countsTimeouts: boolean
  /** Sees every recorded response (the OpenTelemetry export's request duration), or null. */
  recordObserver: RecordObserver | null
}

/**
 * The composition root: every part created once, in the order each needs the ones before it (the sampler's
 * clock first, since the event-loop collector times from the sampler's wake-ups). One process or several is
 * decided here, once, by the Fleet; nothing below asks again.
 */
export function createWatch (options: NormalizedOptions, { log, fastifyVersion, countsTimeouts, recordObserver }: WatchContext): Watch {
  const startedAt = Date.now()
  const requests = new RequestMetrics(options.maxRoutes, options.maxRecentErrors, options.maxErrorMessageLength, { countsTimeouts, observer: recordObserver, byStatusCode: options.prometheus.statusCode })
  const clock = new SamplerClock()
  const sources = createSources(options, log, clock)
  // This process's own history: its request rate (and, with one process, the dashboard's charts).
  const history = new History(requests, options.sampleIntervalMs, startedAt)
  const fleet: Fleet = options.shared === null
    ? singleProcess(history)
    : createSharedFleet({ ...options, shared: options.shared, log, startedAt })
  const recent = new RecentRequests(requests)
  const custom = new CustomMetrics(log, { maxMetrics: options.maxCustomMetrics, maxSeries: options.maxCustomSeries, constantLabels: options.prometheus.labelNames })
  const customHistory = new CustomHistory(custom, options.sampleIntervalMs)
  const engine = options.alerts === null ? null : new AlertEngine(options.alerts.rules, { hostname: hostname(), pid: process.pid })
  // Error groups, releases and Apdex (issue 28): errors recorded beside the recent ones; new groups go out with the alerts.
  const errors = createErrorsAndReleases(options, { own: requests, fleet, startedAt, log, notify: (event) => alerting?.dispatch(event) })
  // Where the time goes: null when off, and then nothing of it exists (docs/breakdown.md).
  const breakdown = options.breakdown === null
    ? null
    : createBreakdown(options.breakdown, { mongo: options.mongo?.client ?? null, maxRoutes: options.maxRoutes, log })
  const read = new ReadModel({ sources, requests, history, recent, custom, engine, fleet, startedAt, fastifyVersion, errors, breakdown })
  const alerting = engine === null
    ? null
    : createAlerting(options.alerts!, engine, {
      parts: {
        application: read.application,
        eventLoop: () => sources.eventLoop.read(),
        memory: read.memory,
        cpu: () => sources.cpu.read(),
        database: () => sources.database.read(),
        checks: () => sources.checks.read()
      },
      sampled: read.sampled,
      endpoint: (key) => requests.endpoints.get(key),
      errorGroupPerMinute: (id, now) => errors.store().perMinute(id, now)
    }, log)
  const step = new SampleStep({ sources, requests, recent, custom, customHistory, history, fleet, alerting, errors, ownStatus: read.ownStatus, log })
  const sampler = new Sampler(options.sampleIntervalMs, step.run, log, clock)

  return {
    requests,
    custom,
    breakdown,
    customHistory: () => customHistory.query(),
    history: fleet.history,
    fleet,
    snapshot: read.snapshot,
    sampled: read.sampled,
    status: read.status,
    ownStatus: read.ownStatus,
    sampledAt: () => step.sampledAt,
    heapSpaces: sources.processMemory.heapSpaces,
    runtime: sources.processMemory.runtime,
    gc: () => sources.gc?.read() ?? null,
    alerts: engine,
    alertsView: () => engine?.view() ?? { active: [], rules: [], transitions: [] },
    errorGroups: errors.store,
    errorRecorder: errors.groups,
    sample: () => sampler.fresh(),
    onSample: (listener) => step.onSample(listener),
    start: () => sampler.start(),
    close () {
      fleet.close(() => step.local(Date.now()))
      errors.close(Date.now())
      sampler.close()
      step.close()
      for (const collector of sources.all) collector.close()
      alerting?.close()
      breakdown?.stop()
    }
  }
}
