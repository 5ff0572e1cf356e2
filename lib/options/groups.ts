/**
 * The parsers of the option groups that are the top level's own (paths, `mongo`, `checks`, `openTelemetry`, the
 * token and profiles); the groups of a feature are parsed in its folder (alerts, shared, prometheus, breakdown).
 * All of them through the one toolkit, lib/options/validate.ts.
 */
import type { MongoClientLike } from '../collectors/mongo/client-types.js'
import { FST_SERVER_WATCH_INVALID_CHECK, FST_SERVER_WATCH_INVALID_OPTION } from '../errors.js'
import { DEFAULT_SERVER_STATUS_INTERVAL_MS, TOKEN_ENV, type HealthCheck, type MongoWatchOptions, type NormalizedCheck, type NormalizedOptions } from '../options.js'
import type { OpenTelemetryOptions, OtelMeterProvider } from '../otel/types.js'
import { OptionGroup, isPlainObject, show, type KnownKeys } from './validate.js'

/** The keys of a check given as an object, and of the `mongo` option given as an object. */
const CHECK_KEYS = { check: true, required: true, timeoutMs: true } satisfies KnownKeys<HealthCheck>
const MONGO_KEYS = { client: true, required: true, serverStatusIntervalMs: true } satisfies KnownKeys<MongoWatchOptions>

export function path (options: OptionGroup, name: string, fallback: string): string | false {
  const value = options.values[name]
  if (value === undefined) return fallback
  if (value === false) return false
  // Clients resolve "." and ".." segments before sending (RFC 3986 5.2.4): a route with one could never match.
  if (typeof value !== 'string' || !/^\/[\w\-./~]*$/.test(value) || value.includes('//') || /\/\.\.?(?:\/|$)/.test(value)) {
    options.fail(name, 'false or a path starting with "/" (letters, digits, "-", "_", ".", "~", no "." or ".." segment)')
  }
  // The one place a trailing slash is taken off: the routes use the path as it is.
  return value.length > 1 && value.endsWith('/') ? value.slice(0, -1) : value
}

function isMongoClient (value: unknown): value is MongoClientLike {
  const client = value as MongoClientLike | null
  return typeof client === 'object' && client !== null &&
    typeof client.db === 'function' && typeof client.on === 'function' && typeof client.off === 'function'
}

export function mongo (options: OptionGroup, checkTimeoutMs: number): NormalizedOptions['mongo'] {
  const value = options.values.mongo
  if (value === undefined || value === null) return null
  if (isMongoClient(value)) {
    return { client: value, required: true, serverStatusIntervalMs: DEFAULT_SERVER_STATUS_INTERVAL_MS }
  }
  const expected = 'a MongoClient or { client: MongoClient, required?, serverStatusIntervalMs? }'
  const group = OptionGroup.of(value, 'mongo', MONGO_KEYS, expected)
  const client = group.values.client
  if (!isMongoClient(client)) return group.fail('client', 'a MongoClient')
  return {
    client,
    required: group.boolean('required', true),
    serverStatusIntervalMs: group.integer('serverStatusIntervalMs', DEFAULT_SERVER_STATUS_INTERVAL_MS, checkTimeoutMs, 86_400_000)
  }
}

export function checks (options: OptionGroup, checkTimeoutMs: number): NormalizedCheck[] {
  const value = options.values.checks
  if (value === undefined) return []
  if (!isPlainObject(value)) options.fail('checks', 'a plain object of named checks')
  return Object.entries(value).map(([name, definition]) => {
    const spec = typeof definition === 'function' ? { check: definition } : definition
    if (!isPlainObject(spec) || typeof spec.check !== 'function') {
      throw new FST_SERVER_WATCH_INVALID_CHECK(name, 'must be a function or { check: function, required?, timeoutMs? }')
    }
    const group = OptionGroup.of(spec, `checks.${name}`, CHECK_KEYS, '')
    // A null timeoutMs is a mistake, not a request for the default: the group's readers take only undefined as absent.
    return { name, check: spec.check as () => unknown, required: group.boolean('required', true), timeoutMs: group.integer('timeoutMs', checkTimeoutMs, 1, 600_000) }
  })
}

export function openTelemetry (options: OptionGroup): NormalizedOptions['openTelemetry'] {
  const value = options.values.openTelemetry
  if (value === undefined) return null
  const group = OptionGroup.of(value, 'openTelemetry', { meterProvider: true } satisfies KnownKeys<OpenTelemetryOptions>, '{ meterProvider } with an @opentelemetry/api MeterProvider')
  const provider = group.values.meterProvider as OtelMeterProvider | null | undefined
  if (typeof provider !== 'object' || provider === null || typeof provider.getMeter !== 'function') {
    return group.fail('meterProvider', 'a MeterProvider (an object with getMeter)')
  }
  return { meterProvider: provider }
}

// Printable ASCII without spaces or commas (the environment variable separates tokens with commas), long enough
// that ten guesses a minute per address (lib/access/attempts.ts) cannot find it.
const TOKEN_PATTERN = /^[\x21-\x2b\x2d-\x7e]{16,1024}$/

/** The token option, else SERVER_WATCH_TOKEN. A rejected value is described, never shown: it is a secret. */
export function tokens (options: Record<string, unknown>): readonly string[] | null {
  const fromOption = options.token !== undefined
  const value = fromOption ? options.token : process.env[TOKEN_ENV]?.split(',').map((token) => token.trim()).filter(Boolean)
  const name = fromOption ? 'token' : TOKEN_ENV
  if (value === undefined || (!fromOption && (value as string[]).length === 0)) return null
  const list = typeof value === 'string' ? [value] : value
  const expected = 'a string (or an array of them) of 16 to 1024 printable ASCII characters without spaces or commas'
  if (!Array.isArray(list) || list.length === 0) {
    throw new FST_SERVER_WATCH_INVALID_OPTION(name, expected, Array.isArray(list) ? 'an empty array' : typeof list)
  }
  for (const token of list) {
    if (typeof token !== 'string' || !TOKEN_PATTERN.test(token)) {
      const got = typeof token === 'string' ? `a string of ${token.length} characters that does not match` : typeof token
      throw new FST_SERVER_WATCH_INVALID_OPTION(name, expected, got)
    }
  }
  return Object.freeze([...list])
}

/**
 * A heap snapshot holds every string in memory (secrets included) and a capture pauses or slows the process: off
 * unless asked for (a token set for a Prometheus scrape must not open them), and never open on the local rule
 * alone, which trusts anything that runs on the host, so never without a way to say who.
 */
export function profiles (options: Record<string, unknown>, { tokens, authorize }: Pick<NormalizedOptions, 'tokens' | 'authorize'>): boolean {
  const value = options.profiles
  const guarded = tokens !== null || authorize !== null
  if (value === undefined) return false
  if (typeof value !== 'boolean') throw new FST_SERVER_WATCH_INVALID_OPTION('profiles', 'a boolean', show(value))
  if (value && !guarded) {
    throw new FST_SERVER_WATCH_INVALID_OPTION('profiles',
      'false unless "token" (or SERVER_WATCH_TOKEN) or "authorize" is set: profiles are never open on the local rule alone', 'true')
  }
  return value
}
