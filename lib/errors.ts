import createError from '@fastify/error'

/** One of the errors below, as it is thrown (lib/refusal.ts sends one as a response). */
export type CodedError = Error & { code: string, statusCode?: number }

/** An option has the wrong type or value: `"sampleIntervalMs" option must be an integer >= 10, got "fast"`. */
export const FST_SERVER_WATCH_INVALID_OPTION = createError(
  'FST_SERVER_WATCH_INVALID_OPTION',
  '"%s" option must be %s, got %s',
  500,
  TypeError
)

/** A custom check is not `{ check: function, required?, timeoutMs? }`. */
export const FST_SERVER_WATCH_INVALID_CHECK = createError(
  'FST_SERVER_WATCH_INVALID_CHECK',
  'check "%s" %s',
  500,
  TypeError
)

/** Two of `healthPath`, `dashboardPath` and `metricsPath` are the same path. */
export const FST_SERVER_WATCH_PATH_CONFLICT = createError(
  'FST_SERVER_WATCH_PATH_CONFLICT',
  '"%s" and "%s" options are both "%s"',
  500,
  TypeError
)

/** A shedding alert rule is firing: new requests are refused until it resolves (503 with Retry-After). */
export const FST_SERVER_WATCH_SHEDDING = createError(
  'FST_SERVER_WATCH_SHEDDING',
  'the server is overloaded (alert "%s"); try again later',
  503
)

/** A custom check did not settle within its timeout. */
export const FST_SERVER_WATCH_CHECK_TIMEOUT = createError(
  'FST_SERVER_WATCH_CHECK_TIMEOUT',
  'timed out after %d ms',
  503
)

/** The live stream already serves `maxStreams` clients. */
export const FST_SERVER_WATCH_TOO_MANY_STREAMS = createError(
  'FST_SERVER_WATCH_TOO_MANY_STREAMS',
  'too many live dashboard streams (at most %d); poll api/snapshot instead',
  503
)

/** The caller may not read the detailed views; the message says why and how to open them. */
export const FST_SERVER_WATCH_FORBIDDEN = createError(
  'FST_SERVER_WATCH_FORBIDDEN',
  'not allowed to read the detailed server watch: %s',
  403
)

/** A token is configured and the caller presented none, or a wrong one: 401 with a Basic challenge. */
export const FST_SERVER_WATCH_UNAUTHORIZED = createError(
  'FST_SERVER_WATCH_UNAUTHORIZED',
  'a token is needed to read the detailed server watch: send it as "Authorization: Bearer <token>" or as the Basic password',
  401
)

/** Too many wrong tokens from one address (an IPv6 /64) or from all together: refused until the window ends (Retry-After). */
export const FST_SERVER_WATCH_TOO_MANY_ATTEMPTS = createError(
  'FST_SERVER_WATCH_TOO_MANY_ATTEMPTS',
  'too many wrong tokens from this address, or from all addresses together; try again later',
  429
)

/** A request that changes state came from another site (Origin or Sec-Fetch-Site). */
export const FST_SERVER_WATCH_CROSS_SITE = createError(
  'FST_SERVER_WATCH_CROSS_SITE',
  'cross-site requests may not change the server watch',
  403
)

/** A capture (CPU profile, heap snapshot or allocation profile) is already running in this process. */
export const FST_SERVER_WATCH_PROFILE_BUSY = createError(
  'FST_SERVER_WATCH_PROFILE_BUSY',
  'a %s capture is already running in this process; one capture at a time: try again when it ends',
  409
)

/** Captures are kept apart so that no caller can keep the process profiled (Retry-After). */
export const FST_SERVER_WATCH_PROFILE_COOLDOWN = createError(
  'FST_SERVER_WATCH_PROFILE_COOLDOWN',
  'captures are at least %d s apart; try again in %d s',
  429
)

/** The capture is larger than the plugin will send. */
export const FST_SERVER_WATCH_PROFILE_TOO_LARGE = createError(
  'FST_SERVER_WATCH_PROFILE_TOO_LARGE',
  'the %s is larger than the %d-byte limit: not sent',
  413
)

/** A heap snapshot could exhaust the memory (or the disk) it needs: refused before it starts. */
export const FST_SERVER_WATCH_HEAP_TOO_LARGE = createError(
  'FST_SERVER_WATCH_HEAP_TOO_LARGE',
  'heap snapshot refused: %s',
  503
)

/** The capture ended before it finished: the server is closing, or the client left. */
export const FST_SERVER_WATCH_PROFILE_ABORTED = createError(
  'FST_SERVER_WATCH_PROFILE_ABORTED',
  'the capture ended before it finished: %s',
  503
)

/** A custom metric's name, labels or options are invalid, clash with another metric, or a record is invalid. */
export const FST_SERVER_WATCH_INVALID_METRIC = createError(
  'FST_SERVER_WATCH_INVALID_METRIC',
  'custom metric "%s" %s',
  500,
  TypeError
)

/** The shared directory (`shared.dir` or SERVER_WATCH_DIR) is missing, not a directory, or not writable. */
export const FST_SERVER_WATCH_SHARED_DIR = createError(
  'FST_SERVER_WATCH_SHARED_DIR',
  '%s names "%s", which %s',
  500,
  TypeError
)

/** Shared mode: the dashboard asked for the history of a process that is not (or no longer) live. */
export const FST_SERVER_WATCH_UNKNOWN_PROCESS = createError(
  'FST_SERVER_WATCH_UNKNOWN_PROCESS',
  'no live process "%s" shares this app\'s directory',
  404
)
