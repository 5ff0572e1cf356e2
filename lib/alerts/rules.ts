import type { FastifyReply, FastifyRequest } from 'fastify'
import { FST_SERVER_WATCH_INVALID_ALERT, FST_SERVER_WATCH_INVALID_OPTION } from '../errors.js'
import type { Alert } from '../schemas/alerts.js'
import type { AnyAlertEvent } from '../schemas/errors.js'
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
  /**
   * Called with each transition, after the sample, and with each new error group (`type: 'error.new'`, once per
   * group per release); a throw or a rejection is logged.
   */
  onAlert?: (event: AnyAlertEvent) => void | Promise<void>
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
  onAlert: ((event: AnyAlertEvent) => void | Promise<void>) | null
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

const RULE_KEYS = new Set(['name', 'metric', 'above', 'below', 'forMs', 'clearForMs', 'severity', 'shed'])
const ALERTS_KEYS = new Set(['rules', 'defaults', 'webhook', 'onAlert', 'shedding'])
const NAME = /^[\w.-]{1,64}$/

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype

function duration (rule: Record<string, unknown>, name: string, key: string, fallback: number): number {
  const value = rule[key] ?? fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 86_400_000) {
    throw new FST_SERVER_WATCH_INVALID_ALERT(name, `"${key}" must be an integer of milliseconds from 0 to 86400000`)
  }
  return value
}

function rule (raw: unknown, index: number, checkNames: readonly string[], sampleIntervalMs: number): NormalizedRule {
  if (!isPlainObject(raw)) throw new FST_SERVER_WATCH_INVALID_ALERT(`#${index}`, 'must be an object { name, metric, above | below, forMs?, severity? }')
  const name = typeof raw.name === 'string' && NAME.test(raw.name) ? raw.name : null
  if (name === null) throw new FST_SERVER_WATCH_INVALID_ALERT(`#${index}`, '"name" must be 1 to 64 letters, digits, ".", "_" or "-"')
  for (const key of Object.keys(raw)) {
    if (!RULE_KEYS.has(key)) throw new FST_SERVER_WATCH_INVALID_ALERT(name, `has an unknown key "${key}" (known: ${[...RULE_KEYS].join(', ')})`)
  }
  const path = parseMetricPath(raw.metric, checkNames)
  if (typeof path === 'string') throw new FST_SERVER_WATCH_INVALID_ALERT(name, `"metric" ${path}`)
  if ((raw.above === undefined) === (raw.below === undefined)) {
    throw new FST_SERVER_WATCH_INVALID_ALERT(name, 'needs exactly one of "above" and "below"')
  }
  const direction = raw.above !== undefined ? 'above' : 'below'
  const threshold = raw[direction]
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) {
    throw new FST_SERVER_WATCH_INVALID_ALERT(name, `"${direction}" must be a finite number`)
  }
  const severity = raw.severity ?? 'degraded'
  if (severity !== 'degraded' && severity !== 'unhealthy') {
    throw new FST_SERVER_WATCH_INVALID_ALERT(name, '"severity" must be "degraded" or "unhealthy"')
  }
  if (raw.shed !== undefined && typeof raw.shed !== 'boolean') throw new FST_SERVER_WATCH_INVALID_ALERT(name, '"shed" must be a boolean')
  const forMs = duration(raw, name, 'forMs', DEFAULT_FOR_MS)
  return {
    name,
    metric: raw.metric as string,
    path,
    direction,
    threshold,
    forMs,
    // Three samples at least by default, so that a figure flapping around its threshold does not fire and resolve
    // on every other sample even with forMs: 0.
    clearForMs: duration(raw, name, 'clearForMs', Math.max(forMs, 3 * sampleIntervalMs)),
    severity,
    shed: raw.shed === true
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
  const spec = typeof value === 'string' ? { url: value } : value
  // The URL carries its own secret: an error describes it, never shows it.
  const expected = 'an http(s) URL or { url, format?, timeoutMs?, retries? }'
  if (!isPlainObject(spec)) throw new FST_SERVER_WATCH_INVALID_OPTION('alerts.webhook', expected, typeof spec)
  for (const key of Object.keys(spec)) {
    if (!['url', 'format', 'timeoutMs', 'retries'].includes(key)) throw new FST_SERVER_WATCH_INVALID_OPTION(`alerts.webhook.${key}`, 'not set (unknown key)', 'a value')
  }
  let url: URL
  try {
    url = new URL(spec.url as string)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('protocol')
  } catch {
    throw new FST_SERVER_WATCH_INVALID_OPTION('alerts.webhook', expected, 'a value that is not an http(s) URL')
  }
  const format = spec.format ?? webhookFormat(url)
  if (!['slack', 'discord', 'teams', 'json'].includes(format as string)) {
    throw new FST_SERVER_WATCH_INVALID_OPTION('alerts.webhook.format', '"slack", "discord", "teams" or "json"', JSON.stringify(format))
  }
  const timeoutMs = spec.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS
  if (typeof timeoutMs !== 'number' || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) {
    throw new FST_SERVER_WATCH_INVALID_OPTION('alerts.webhook.timeoutMs', 'an integer from 1 to 60000', String(timeoutMs))
  }
  const retries = spec.retries ?? DEFAULT_WEBHOOK_RETRIES
  if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0 || retries > 10) {
    throw new FST_SERVER_WATCH_INVALID_OPTION('alerts.webhook.retries', 'an integer from 0 to 10', String(retries))
  }
  return { url: url.href, format: format as Required<WebhookOptions>['format'], timeoutMs, retries }
}

/** The `alerts` option, checked at register: `false` turns every rule off, the defaults included. */
export function normalizeAlerts (value: unknown, checkNames: readonly string[], sampleIntervalMs: number): NormalizedAlerts | null {
  if (value === false) return null
  const spec = value ?? {}
  if (!isPlainObject(spec)) throw new FST_SERVER_WATCH_INVALID_OPTION('alerts', 'false or { rules?, defaults?, webhook?, onAlert?, shedding? }', typeof spec)
  for (const key of Object.keys(spec)) {
    if (!ALERTS_KEYS.has(key)) throw new FST_SERVER_WATCH_INVALID_OPTION(`alerts.${key}`, `not set (unknown key; known: ${[...ALERTS_KEYS].join(', ')})`, 'a value')
  }
  if (spec.rules !== undefined && !Array.isArray(spec.rules)) throw new FST_SERVER_WATCH_INVALID_OPTION('alerts.rules', 'an array of rules', typeof spec.rules)
  if (spec.defaults !== undefined && typeof spec.defaults !== 'boolean') throw new FST_SERVER_WATCH_INVALID_OPTION('alerts.defaults', 'a boolean', String(spec.defaults))
  if (spec.onAlert !== undefined && typeof spec.onAlert !== 'function') throw new FST_SERVER_WATCH_INVALID_OPTION('alerts.onAlert', 'a function (event) => void', typeof spec.onAlert)
  const own = ((spec.rules ?? []) as unknown[]).map((raw, index) => rule(raw, index, checkNames, sampleIntervalMs))
  const names = new Set<string>()
  for (const { name } of own) {
    if (names.has(name)) throw new FST_SERVER_WATCH_INVALID_ALERT(name, 'is defined twice')
    names.add(name)
  }
  const defaults = spec.defaults === false ? [] : DEFAULT_RULES.filter((r) => !names.has(r.name)).map((raw, index) => rule(raw, index, checkNames, sampleIntervalMs))
  const shedding = spec.shedding ?? {}
  if (!isPlainObject(shedding)) throw new FST_SERVER_WATCH_INVALID_OPTION('alerts.shedding', '{ retryAfterSeconds?, handler? }', typeof shedding)
  const retryAfterSeconds = shedding.retryAfterSeconds ?? DEFAULT_RETRY_AFTER_SECONDS
  if (typeof retryAfterSeconds !== 'number' || !Number.isInteger(retryAfterSeconds) || retryAfterSeconds < 0 || retryAfterSeconds > 86_400) {
    throw new FST_SERVER_WATCH_INVALID_OPTION('alerts.shedding.retryAfterSeconds', 'an integer from 0 to 86400', String(retryAfterSeconds))
  }
  if (shedding.handler !== undefined && typeof shedding.handler !== 'function') {
    throw new FST_SERVER_WATCH_INVALID_OPTION('alerts.shedding.handler', 'a function (request, reply, alerts) => void', typeof shedding.handler)
  }
  const rules = [...defaults, ...own]
  // Without rules, a webhook or onAlert still receives error.new (lib/error-groups/).
  if (rules.length === 0 && spec.webhook === undefined && spec.onAlert === undefined) return null
  return {
    rules,
    webhook: webhook(spec.webhook),
    onAlert: (spec.onAlert as NormalizedAlerts['onAlert']) ?? null,
    retryAfterSeconds,
    shedHandler: (shedding.handler as NormalizedAlerts['shedHandler']) ?? null
  }
}
