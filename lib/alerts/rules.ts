import type { FastifyReply, FastifyRequest } from 'fastify'
import { fail, OptionGroup, show, type KnownKeys } from '../options/validate.js'
import type { Alert, AlertEvent } from '../schemas/alerts.js'
import { parseMetricPath, type MetricPath } from './metric-path.js'

export interface AlertRule {
  /** Letters, digits, `.`, `_` and `-`: it is a label value in /metrics. */
  name: string
  /** The figure's path in the /health snapshot, or `application.endpoints["GET /route"].p95`. */
  metric: string
  /** Fires when the figure is above this (exactly one of `above` and `below`). */
  above?: number
  below?: number
  /** How long the figure must stay past the threshold before the rule fires. Default 30000. */
  forMs?: number
  /** How long it must stay back on the right side before the rule resolves. Default: `forMs`, and at least three samples. */
  clearForMs?: number
  /** The health status while it fires. Default 'degraded'. */
  severity?: 'degraded' | 'unhealthy'
  /** While it fires, new requests get 503 with Retry-After (see `alerts.shedding`). Default false. */
  shed?: boolean
}

export interface WebhookOptions {
  url: string
  /** The body's shape; by default chosen from the URL's host (Slack, Discord, Teams), else 'json'. */
  format?: 'slack' | 'discord' | 'teams' | 'json'
  timeoutMs?: number
  retries?: number
}

export interface AlertsOptions {
  rules?: AlertRule[]
  /** The built-in rules (DEFAULT_RULES); a rule of yours with the same name replaces one. Default true. */
  defaults?: boolean
  /** POSTs each transition (fired, resolved): a URL, or `{ url, format?, timeoutMs?, retries? }`. */
  webhook?: string | WebhookOptions
  /** Called with each transition, after the sample; a throw or a rejection is logged. */
  onAlert?: (event: AlertEvent) => void | Promise<void>
  /** What shedding rules answer: Retry-After in seconds (default 10), or your own handler. */
  shedding?: {
    retryAfterSeconds?: number
    handler?: (request: FastifyRequest, reply: FastifyReply, alerts: readonly Alert[]) => void
  }
}

export interface NormalizedRule {
  name: string
  metric: string
  path: MetricPath
  direction: 'above' | 'below'
  threshold: number
  forMs: number
  clearForMs: number
  severity: 'degraded' | 'unhealthy'
  shed: boolean
}

export interface NormalizedAlerts {
  rules: NormalizedRule[]
  webhook: Required<WebhookOptions> | null
  onAlert: ((event: AlertEvent) => void | Promise<void>) | null
  retryAfterSeconds: number
  shedHandler: NonNullable<AlertsOptions['shedding']>['handler'] | null
}

export const DEFAULT_FOR_MS = 30_000
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 5000
export const DEFAULT_WEBHOOK_RETRIES = 3
export const DEFAULT_RETRY_AFTER_SECONDS = 10

/** On unless turned off: signs that almost always mean trouble, held long enough not to fire on one spike. */
export const DEFAULT_RULES: readonly AlertRule[] = Object.freeze([
  { name: 'event-loop-blocked', metric: 'eventLoop.delayMs.p99', above: 1000, forMs: 10_000, severity: 'degraded' },
  { name: 'heap-nearly-full', metric: 'memory.process.heapUsedPercent', above: 90, forMs: 60_000, severity: 'degraded' }
])

const RULE_KEYS = { name: true, metric: true, above: true, below: true, forMs: true, clearForMs: true, severity: true, shed: true } satisfies KnownKeys<AlertRule>
const ALERTS_KEYS = { rules: true, defaults: true, webhook: true, onAlert: true, shedding: true } satisfies KnownKeys<AlertsOptions>
const WEBHOOK_KEYS = { url: true, format: true, timeoutMs: true, retries: true } satisfies KnownKeys<WebhookOptions>
const SHEDDING_KEYS = { retryAfterSeconds: true, handler: true } satisfies KnownKeys<NonNullable<AlertsOptions['shedding']>>
const WEBHOOK_FORMATS = ['slack', 'discord', 'teams', 'json'] as const
const NAME = /^[\w.-]{1,64}$/
const MAX_DURATION_MS = 86_400_000

/** One rule, at `path` (`alerts.rules.0`): every error names the rule's option by its full path. */
function rule (raw: unknown, path: string, checkNames: readonly string[], sampleIntervalMs: number): NormalizedRule {
  const group: OptionGroup = OptionGroup.of(raw, path, RULE_KEYS, 'a rule { name, metric, above | below, forMs?, clearForMs?, severity?, shed? }')
  const nameExpected = '1 to 64 letters, digits, ".", "_" or "-"'
  const name = group.string('name', null, NAME, nameExpected) ?? group.fail('name', nameExpected)
  const metric = group.values.metric
  const parsed = parseMetricPath(metric, checkNames)
  if (typeof parsed === 'string') group.fail('metric', 'a path to a number of the /health snapshot, such as "eventLoop.delayMs.p99"', `${show(metric)}, which ${parsed}`)
  if (group.has('above') === group.has('below')) {
    fail(path, 'a rule with exactly one of "above" and "below"', group.has('above') ? 'both' : 'neither')
  }
  const direction = group.has('above') ? 'above' : 'below'
  const threshold = group.values[direction]
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) group.fail(direction, 'a finite number')
  const forMs = group.integer('forMs', DEFAULT_FOR_MS, 0, MAX_DURATION_MS)
  return {
    name,
    metric: metric as string,
    path: parsed,
    direction,
    threshold,
    forMs,
    // Three samples at least by default, so that a figure flapping around its threshold does not fire and resolve
    // on every other sample even with forMs: 0.
    clearForMs: group.integer('clearForMs', Math.max(forMs, 3 * sampleIntervalMs), 0, MAX_DURATION_MS),
    severity: group.oneOf('severity', ['degraded', 'unhealthy'], 'degraded'),
    shed: group.boolean('shed', false)
  }
}

/** Where a webhook's body goes decides its shape: Slack and Teams read `text`, Discord `content`. */
export function webhookFormat (url: URL): Required<WebhookOptions>['format'] {
  const host = url.hostname.toLowerCase()
  if (host === 'hooks.slack.com') return 'slack'
  if ((host === 'discord.com' || host === 'discordapp.com') && url.pathname.startsWith('/api/webhooks/')) return 'discord'
  if (host.endsWith('.webhook.office.com') || host.endsWith('.logic.azure.com')) return 'teams'
  return 'json'
}

function webhook (value: unknown): Required<WebhookOptions> | null {
  if (value === undefined) return null
  // The URL carries its own secret: an error describes it, never shows it.
  const group = OptionGroup.of(typeof value === 'string' ? { url: value } : value, 'alerts.webhook', WEBHOOK_KEYS, 'an http(s) URL or { url, format?, timeoutMs?, retries? }')
  const urlName = typeof value === 'string' ? 'alerts.webhook' : 'alerts.webhook.url'
  let url: URL
  try {
    url = new URL(group.values.url as string)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol')
  } catch {
    return fail(urlName, 'an http(s) URL', 'a value that is not an http(s) URL')
  }
  return {
    url: url.href,
    format: group.oneOf('format', WEBHOOK_FORMATS, webhookFormat(url)),
    timeoutMs: group.integer('timeoutMs', DEFAULT_WEBHOOK_TIMEOUT_MS, 1, 60_000),
    retries: group.integer('retries', DEFAULT_WEBHOOK_RETRIES, 0, 10)
  }
}

/** The `alerts` option, checked at register: `false` turns every rule off, the defaults included. */
export function normalizeAlerts (value: unknown, checkNames: readonly string[], sampleIntervalMs: number): NormalizedAlerts | null {
  if (value === false) return null
  const group = OptionGroup.of(value === undefined ? {} : value, 'alerts', ALERTS_KEYS, 'false or { rules?, defaults?, webhook?, onAlert?, shedding? }')
  const rules = group.values.rules ?? []
  if (!Array.isArray(rules)) return group.fail('rules', 'an array of rules')
  const own = rules.map((raw: unknown, index) => rule(raw, `alerts.rules.${index}`, checkNames, sampleIntervalMs))
  const names = new Set<string>()
  for (const [index, { name }] of own.entries()) {
    if (names.has(name)) fail(`alerts.rules.${index}.name`, 'a name no other rule has', show(name))
    names.add(name)
  }
  const defaults = group.boolean('defaults', true)
    ? DEFAULT_RULES.filter((r) => !names.has(r.name)).map((raw, index) => rule(raw, `DEFAULT_RULES.${index}`, checkNames, sampleIntervalMs))
    : []
  const onAlert = group.func<NonNullable<NormalizedAlerts['onAlert']>>('onAlert', 'a function (event) => void')
  const shedding = OptionGroup.of(group.values.shedding ?? {}, 'alerts.shedding', SHEDDING_KEYS, '{ retryAfterSeconds?, handler? }')
  const retryAfterSeconds = shedding.integer('retryAfterSeconds', DEFAULT_RETRY_AFTER_SECONDS, 0, 86_400)
  const shedHandler = shedding.func<NonNullable<NormalizedAlerts['shedHandler']>>('handler', 'a function (request, reply, alerts) => void')
  const all = [...defaults, ...own]
  if (all.length === 0) return null
  return { rules: all, webhook: webhook(group.values.webhook), onAlert, retryAfterSeconds, shedHandler }
}
