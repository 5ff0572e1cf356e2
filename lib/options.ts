import type { FastifyRequest } from 'fastify'
import type { MongoClientLike } from './collectors/mongo/client-types.js'
import { normalizePrometheus, type NormalizedPrometheus, type PrometheusOptions } from './prometheus/relabel.js'
import { RESERVED_LABEL_NAMES } from './prometheus/index.js'
import { DEFAULT_MAX_CUSTOM_METRICS, DEFAULT_MAX_CUSTOM_SERIES } from './custom/registry.js'
import { normalizeAlerts, type AlertsOptions, type NormalizedAlerts } from './alerts/rules.js'
import type { OpenTelemetryOptions, OtelMeterProvider } from './otel/types.js'
import { normalizeShared, type NormalizedShared, type SharedOptions } from './shared/config.js'
import { FST_SERVER_WATCH_PATH_CONFLICT } from './errors.js'
import { OptionGroup, type KnownKeys } from './options/validate.js'
import { checks, mongo, openTelemetry, path, profiles, tokens } from './options/groups.js'
import { DEFAULT_MAX_ERROR_GROUPS } from './error-groups/store.js'
import { DEFAULT_APDEX_THRESHOLD_MS } from './releases/apdex.js'
import { RELEASE_EXPECTED, RELEASE_PATTERN, resolveRelease, type ReleaseSource } from './releases/release.js'
import { normalizeBreakdown, type BreakdownOptions, type NormalizedBreakdown } from './breakdown/options.js'

export const DEFAULT_SAMPLE_INTERVAL_MS = 1000
export const DEFAULT_CHECK_TIMEOUT_MS = 2000
export const DEFAULT_MAX_ROUTES = 200
export const DEFAULT_MAX_RECENT_ERRORS = 10
export const DEFAULT_MAX_ERROR_MESSAGE_LENGTH = 200
export const DEFAULT_MAX_STREAMS = 10
export const DEFAULT_SERVER_STATUS_INTERVAL_MS = 10_000
export const DEFAULT_AUTHORIZE_TIMEOUT_MS = 1000
export const TOKEN_ENV = 'SERVER_WATCH_TOKEN'

export type Authorize = (request: FastifyRequest) => boolean | Promise<boolean>

export interface HealthCheck {
  /** Passes when it returns or resolves; fails when it throws, rejects or takes longer than `timeoutMs`. */
  check: () => unknown
  /** A failing required check makes the status `unhealthy` (503); an optional one `degraded` (200). Default true. */
  required?: boolean
  /** Default: `checkTimeoutMs`. */
  timeoutMs?: number
}

export interface MongoWatchOptions {
  client: MongoClientLike
  /** When false, a database that is down makes the status `degraded` instead of `unhealthy`. Default true. */
  required?: boolean
  /** How often `serverStatus` is read, when the user may run it. Default 10000. */
  serverStatusIntervalMs?: number
}

export interface ServerWatchOptions {
  /** Fastify's register prefix: the plugin's routes move under it (`/ops/health`). */
  prefix?: string
  /** A MongoClient to watch, or `{ client, required, serverStatusIntervalMs }`. */
  mongo?: MongoClientLike | MongoWatchOptions
  /** Named custom health checks: a function or `{ check, required, timeoutMs }`. */
  checks?: Record<string, HealthCheck | (() => unknown)>
  /**
   * Who may read the detailed views. When given, it decides (a valid `token` still lets a caller in). Default: a
   * valid token; with neither a token nor `authorize`, a request made directly on this host outside production.
   */
  authorize?: Authorize
  /** An `authorize` that has not settled by then denies. Default 1000. */
  authorizeTimeoutMs?: number
  /**
   * A secret (or several, for rotation) that opens the detailed views: `Authorization: Bearer <token>` or the
   * password of HTTP Basic (any user name). Default: `SERVER_WATCH_TOKEN`, comma-separated.
   */
  token?: string | readonly string[]
  /**
   * Whether a request made directly on this host (outside production) opens the detailed views. Default: only when
   * neither `token` (nor SERVER_WATCH_TOKEN) nor `authorize` is set; `true` keeps it beside them.
   */
  localAccess?: boolean
  /** Threshold rules on the snapshot's figures, their notifications and load shedding; `false` turns them off. */
  alerts?: AlertsOptions | false
  /** A name prefix and constant labels on every series of /metrics, and the opt-in `status_code` label. */
  prometheus?: PrometheusOptions
  /** Custom metrics the app may register (`app.serverWatch.counter(...)`...). Default 1000. */
  maxCustomMetrics?: number
  /** Series across every custom metric; past it, new label sets record into each metric's overflow series. Default 2000. */
  maxCustomSeries?: number
  /** Hands the figures to an OpenTelemetry MeterProvider (`@opentelemetry/api`), under the semantic-convention names. */
  openTelemetry?: OpenTelemetryOptions
  sampleIntervalMs?: number
  checkTimeoutMs?: number
  maxRoutes?: number
  maxRecentErrors?: number
  /** Recent error messages are cut to this many characters. Default 200. */
  maxErrorMessageLength?: number
  /** Concurrent live dashboard streams. Default 10. */
  maxStreams?: number
  healthPath?: string | false
  dashboardPath?: string | false
  metricsPath?: string | false
  /**
   * CPU profiles, heap snapshots and allocation profiles on demand (`POST {dashboardPath}/api/profile/*`).
   * Default false; `true` without `token` (or SERVER_WATCH_TOKEN) or `authorize` fails at register.
   */
  profiles?: boolean
  /**
   * Several processes of one app (PM2, node:cluster, containers on one host) serve one view: each writes its figures
   * into `dir` on every sample and merges the others'. Default: SERVER_WATCH_DIR when set; `false` turns it off.
   */
  shared?: SharedOptions | false
  /** Error groups kept (`application.errorGroups`), the least recently seen evicted past it; 0 turns them off. Default 100. */
  maxErrorGroups?: number
  /**
   * The release running, for `instance.release` and the release comparison. Default: SERVER_WATCH_RELEASE, a
   * platform's variable, the app's package.json version (docs/errors-and-releases.md).
   */
  release?: string
  /** Apdex's T: a response within it is satisfied, within 4T tolerated. Default 500. */
  apdexThresholdMs?: number
  /**
   * The health and metrics routes are documented in the app's OpenAPI document (@fastify/swagger) under the tag
   * `server-watch`, every other route of the plugin hidden. Default true; `false` hides them all.
   */
  openapi?: boolean
  /**
   * Where the time goes: each request's MongoDB commands (of `mongo`) and outbound HTTP calls, charged to its route
   * (docs/breakdown.md). `true`, or `{ database?, outbound?, nPlusOneCalls? }`. Default false.
   */
  breakdown?: boolean | BreakdownOptions
}

export interface NormalizedCheck {
  name: string
  check: () => unknown
  required: boolean
  timeoutMs: number
}

export interface NormalizedOptions {
  mongo: { client: MongoClientLike, required: boolean, serverStatusIntervalMs: number } | null
  checks: NormalizedCheck[]
  authorize: Authorize | null
  authorizeTimeoutMs: number
  tokens: readonly string[] | null
  localAccess: boolean
  alerts: NormalizedAlerts | null
  prometheus: NormalizedPrometheus
  maxCustomMetrics: number
  maxCustomSeries: number
  openTelemetry: { meterProvider: OtelMeterProvider } | null
  /** `NODE_ENV === 'production'` when the plugin was registered. */
  production: boolean
  sampleIntervalMs: number
  checkTimeoutMs: number
  maxRoutes: number
  maxRecentErrors: number
  maxErrorMessageLength: number
  maxStreams: number
  healthPath: string | false
  dashboardPath: string | false
  metricsPath: string | false
  profiles: boolean
  shared: NormalizedShared | null
  maxErrorGroups: number
  release: { release: string | null, source: ReleaseSource }
  apdexThresholdMs: number
  openapi: boolean
  breakdown: NormalizedBreakdown | null
}

/** Every option's name, derived from the interface: a key added there and not here fails to compile. */
const KNOWN_OPTIONS = {
  prefix: true,
  mongo: true,
  checks: true,
  authorize: true,
  authorizeTimeoutMs: true,
  token: true,
  localAccess: true,
  alerts: true,
  prometheus: true,
  maxCustomMetrics: true,
  maxCustomSeries: true,
  openTelemetry: true,
  sampleIntervalMs: true,
  checkTimeoutMs: true,
  maxRoutes: true,
  maxRecentErrors: true,
  maxErrorMessageLength: true,
  maxStreams: true,
  healthPath: true,
  dashboardPath: true,
  metricsPath: true,
  profiles: true,
  shared: true,
  maxErrorGroups: true,
  release: true,
  apdexThresholdMs: true,
  openapi: true,
  breakdown: true
} satisfies KnownKeys<ServerWatchOptions>
/** Set by Fastify's register itself. */
const REGISTER_OPTIONS = ['logLevel', 'logSerializers']

/** Checks every option once, at register time, and returns them with their defaults filled in. */
export function normalizeOptions (raw: ServerWatchOptions | undefined): NormalizedOptions {
  const top = OptionGroup.of(raw ?? {}, '', [...Object.keys(KNOWN_OPTIONS), ...REGISTER_OPTIONS], 'an object')
  const options = top.values
  const authorize = top.func<Authorize>('authorize', 'a function (request) => boolean | Promise<boolean>')
  const checkTimeoutMs = top.integer('checkTimeoutMs', DEFAULT_CHECK_TIMEOUT_MS, 1, 600_000)
  const normalized: NormalizedOptions = {
    mongo: mongo(top, checkTimeoutMs),
    checks: checks(top, checkTimeoutMs),
    authorize,
    authorizeTimeoutMs: top.integer('authorizeTimeoutMs', DEFAULT_AUTHORIZE_TIMEOUT_MS, 1, 60_000),
    tokens: tokens(options),
    localAccess: false,
    alerts: null,
    prometheus: normalizePrometheus(options.prometheus, RESERVED_LABEL_NAMES),
    maxCustomMetrics: top.integer('maxCustomMetrics', DEFAULT_MAX_CUSTOM_METRICS, 1, 100_000),
    maxCustomSeries: top.integer('maxCustomSeries', DEFAULT_MAX_CUSTOM_SERIES, 1, 1_000_000),
    openTelemetry: openTelemetry(top),
    production: process.env.NODE_ENV === 'production',
    sampleIntervalMs: top.integer('sampleIntervalMs', DEFAULT_SAMPLE_INTERVAL_MS, 10, 3_600_000),
    checkTimeoutMs,
    maxRoutes: top.integer('maxRoutes', DEFAULT_MAX_ROUTES, 1, 100_000),
    maxRecentErrors: top.integer('maxRecentErrors', DEFAULT_MAX_RECENT_ERRORS, 0, 1000),
    maxErrorMessageLength: top.integer('maxErrorMessageLength', DEFAULT_MAX_ERROR_MESSAGE_LENGTH, 16, 10_000),
    maxStreams: top.integer('maxStreams', DEFAULT_MAX_STREAMS, 0, 10_000),
    healthPath: path(top, 'healthPath', '/health'),
    dashboardPath: path(top, 'dashboardPath', '/dashboard'),
    metricsPath: path(top, 'metricsPath', '/metrics'),
    profiles: false,
    shared: normalizeShared(options.shared),
    maxErrorGroups: top.integer('maxErrorGroups', DEFAULT_MAX_ERROR_GROUPS, 0, 10_000),
    release: resolveRelease({ option: top.string('release', null, RELEASE_PATTERN, RELEASE_EXPECTED) }),
    // 4T stays within the latency histogram (1,000 s).
    apdexThresholdMs: top.number('apdexThresholdMs', DEFAULT_APDEX_THRESHOLD_MS, 1, 250_000),
    openapi: top.boolean('openapi', true),
    breakdown: normalizeBreakdown(options.breakdown)
  }
  normalized.alerts = normalizeAlerts(options.alerts, normalized.checks.map((check) => check.name), normalized.sampleIntervalMs)
  normalized.profiles = profiles(options, normalized)
  normalized.localAccess = top.boolean('localAccess', normalized.tokens === null && authorize === null)
  const paths = (['healthPath', 'dashboardPath', 'metricsPath'] as const).filter((name) => normalized[name] !== false)
  for (const [i, a] of paths.entries()) {
    for (const b of paths.slice(i + 1)) {
      if (normalized[a] === normalized[b]) throw new FST_SERVER_WATCH_PATH_CONFLICT(a, b, normalized[a])
    }
  }
  return normalized
}
