import type { FastifyBaseLogger } from 'fastify'
import { RecentRequests } from '../collectors/recent.js'
import { loggableError } from '../error-text.js'
import { Histogram } from '../histogram.js'
import type { NormalizedOptions } from '../options.js'
import type { Endpoint } from '../requests/endpoint.js'
import type { AlertEngine } from './engine.js'
import { readPath } from './metric-path.js'
import type { NormalizedRule } from './rules.js'
import { createWebhook } from './webhook.js'

const EMPTY_HISTOGRAM = new Histogram()

/** What the alert rules read: one reader per top-level part of the snapshot, and the endpoints by key. */
export interface AlertSources {
  /** Readers of the parts rules may name (`eventLoop`, `memory`, ...), built only for the parts some rule reads. */
  parts: Record<string, (now: number) => unknown>
  /** Any other part, read from the whole sampled snapshot. */
  sampled (now: number): object
  /** The endpoint of a `METHOD /route` key, once it has had a request. */
  endpoint (key: string): Endpoint | undefined
}

/**
 * The alert rules' inputs (their per-route windows) and where their transitions go (log, webhook, onAlert),
 * around an engine built on `config.rules`: evaluated once per sample, after the history point, so that rules
 * read the same figures as the snapshot. The engine is made first, since the read model reads its status.
 */
export function createAlerting (
  config: NonNullable<NormalizedOptions['alerts']>,
  engine: AlertEngine,
  sources: AlertSources,
  log: FastifyBaseLogger
) {
  const webhook = config.webhook === null ? null : createWebhook(config.webhook, log)
  // A rule on one route reads that route over the last minute, like application.recent.
  const routeWindows = new Map<NormalizedRule, RecentRequests>()
  for (const rule of config.rules) {
    if (rule.path.kind !== 'endpoint') continue
    const key = rule.path.key
    const endpoint = () => sources.endpoint(key)
    routeWindows.set(rule, new RecentRequests({
      get total () { return endpoint()?.count ?? 0 },
      get errorCount () { return endpoint()?.errorCount ?? 0 },
      get histogram () { return endpoint()?.combined() ?? EMPTY_HISTOGRAM }
    }))
  }
  // Only the parts of the snapshot that some rule reads are built on each sample (the default rules read the
  // event loop and the heap): the whole snapshot and the application's percentiles are not.
  const parts = new Set(config.rules.flatMap((rule) => rule.path.kind === 'path' ? [rule.path.segments[0]!] : []))
  const partReaders = [...parts].map((part) => [part, sources.parts[part] ?? ((now: number) => (sources.sampled(now) as Record<string, unknown>)[part])] as const)

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

  return { evaluate, close: () => webhook?.close() }
}

export type Alerting = ReturnType<typeof createAlerting>
