import type { FastifyBaseLogger, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import {
  FST_SERVER_WATCH_CROSS_SITE, FST_SERVER_WATCH_FORBIDDEN, FST_SERVER_WATCH_TOO_MANY_ATTEMPTS, FST_SERVER_WATCH_UNAUTHORIZED
} from '../errors.js'
import { sendRefusal } from '../refusal.js'
import type { Authorize } from '../options.js'
import { loggableError } from '../error-text.js'
import { FailedAttempts, attemptKey } from './attempts.js'
import { isCrossSite } from './same-origin.js'
import { isLocalRequest } from './local.js'
import { createTokenMatcher, presentedSecret } from './token.js'
import { WrongTokenLog } from './wrong-token-log.js'

export interface AccessOptions {
  tokens: readonly string[] | null
  authorize: Authorize | null
  authorizeTimeoutMs: number
  /** `NODE_ENV === 'production'` at register time: the local rule is off, nothing is open without a way in. */
  production: boolean
  /**
   * Whether the local rule opens the views too. Default: only when neither a token nor `authorize` is set, so that
   * a token, once set, is what opens them (and can be checked with curl on the same machine).
   */
  localAccess?: boolean
  log: FastifyBaseLogger
  now?: () => number
}

/**
 * Why a caller may or may not read the detailed views. `challenge` (401 with a Basic challenge, so that a browser
 * prompts) when a token would let it in; `limited` (429) after too many wrong tokens from its address.
 */
export type Verdict = 'allow' | 'challenge' | 'limited' | 'closed' | 'unopened' | 'remote' | 'denied'

const REASONS: Record<'closed' | 'unopened' | 'remote' | 'denied', string> = {
  closed: 'NODE_ENV is production and neither the "token" option (or SERVER_WATCH_TOKEN) nor "authorize" is set',
  unopened: '"localAccess" is false and neither the "token" option (or SERVER_WATCH_TOKEN) nor "authorize" is set',
  remote: 'only requests made directly on this host may read it without a token (set the "token" option or SERVER_WATCH_TOKEN)',
  denied: 'authorize denied the request'
}
const CHALLENGE = 'Basic realm="server-watch", charset="UTF-8"'

/**
 * Wrong tokens are counted per socket peer, not per `request.ip`: with `trustProxy` that comes from a header the
 * client writes, which could dodge the limit or fill its memory with long keys. Behind a proxy all clients share
 * the proxy's count, which costs them nothing but a 429 instead of a 401 for a wrong token. IPv6 peers are
 * counted per /64 (`attemptKey`).
 */
const peerOf = (request: FastifyRequest): string => request.socket?.remoteAddress ?? 'unknown'

/**
 * Who may read the detailed views: a valid token, then `authorize` if given. The local rule (outside production)
 * only when neither is set, or when `localAccess: true` keeps it beside them.
 */
export function createAccess ({ tokens, authorize, authorizeTimeoutMs, production, localAccess, log, now = Date.now }: AccessOptions) {
  const matches = tokens === null ? null : createTokenMatcher(tokens)
  const local = !production && (localAccess ?? (tokens === null && authorize === null))
  const attempts = new FailedAttempts(now)
  const wrongTokens = new WrongTokenLog(log)

  /** A custom authorize, bounded: only `true` allows; a throw, a rejection or no answer in time denies. */
  function askAuthorize (check: Authorize, request: FastifyRequest): boolean | Promise<boolean> {
    let result: unknown
    let then: unknown
    try {
      result = check(request)
      if (typeof result === 'boolean') return result
      then = (result as { then?: unknown } | null)?.then
    } catch (error) {
      request.log.warn({ err: loggableError(error) }, 'server-watch: authorize threw; access denied')
      return false
    }
    if (typeof then !== 'function') return false
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        request.log.warn(`server-watch: authorize did not settle within ${authorizeTimeoutMs} ms; access denied`)
        resolve(false)
      }, authorizeTimeoutMs)
      // A thenable whose `then` throws rejects here, and is denied like any rejection.
      Promise.resolve(result).then((allowed) => {
        clearTimeout(timer)
        resolve(allowed === true)
      }, (error: unknown) => {
        clearTimeout(timer)
        request.log.warn({ err: loggableError(error) }, 'server-watch: authorize rejected; access denied')
        resolve(false)
      })
    })
  }

  function verdict (request: FastifyRequest): Verdict | Promise<Verdict> {
    if (local && isLocalRequest(request)) return 'allow'
    let fallback: Verdict = authorize !== null ? 'denied' : production ? 'closed' : local ? 'remote' : 'unopened'
    if (matches !== null) {
      fallback = 'challenge'
      const secret = presentedSecret(request.headers.authorization)
      if (secret !== null) {
        // The right token always opens, so that nobody can lock its owner out with wrong ones.
        if (matches(secret)) return 'allow'
        const peer = peerOf(request)
        const key = attemptKey(peer)
        if (attempts.retryAfterMs(key) > 0) {
          fallback = 'limited'
          wrongTokens.refused(key)
        } else {
          // The addresses and the URL only: never the token, right or wrong.
          const { lockedOut, globalLockout } = attempts.fail(key)
          const fields = { client: request.ip, peer, key, url: request.url }
          if (globalLockout) {
            wrongTokens.lockout(request.log, fields, 'server-watch: too many wrong tokens from all addresses together; ' +
              'every wrong token gets 429 until the minute ends (the right token still opens)')
          } else if (lockedOut) {
            wrongTokens.lockout(request.log, fields, 'server-watch: too many wrong tokens from this address; its wrong tokens get 429 for a minute')
          } else {
            wrongTokens.wrong(request.log, fields, 'server-watch: wrong token')
          }
        }
      }
    }
    if (authorize !== null) {
      const allowed = askAuthorize(authorize, request)
      if (typeof allowed === 'boolean') return allowed ? 'allow' : fallback
      return allowed.then((ok) => ok ? 'allow' : fallback)
    }
    return fallback
  }

  function refuse (request: FastifyRequest, reply: FastifyReply, result: Verdict): void {
    if (result === 'challenge') {
      reply.header('www-authenticate', CHALLENGE)
      sendRefusal(reply, new FST_SERVER_WATCH_UNAUTHORIZED())
      return
    }
    if (result === 'limited') {
      reply.header('retry-after', String(Math.max(1, Math.ceil(attempts.retryAfterMs(attemptKey(peerOf(request))) / 1000))))
      sendRefusal(reply, new FST_SERVER_WATCH_TOO_MANY_ATTEMPTS())
      return
    }
    sendRefusal(reply, new FST_SERVER_WATCH_FORBIDDEN(REASONS[result as keyof typeof REASONS]))
  }

  return {
    verdict,
    /** Logs what the wrong-token summary holds so far and stops its timer (the plugin's onClose). */
    close (): void {
      wrongTokens.close()
    },
    /** How an allowed caller got in, for a log line: never the secret itself. */
    via (request: FastifyRequest): 'token' | 'local' | 'authorize' {
      const secret = matches === null ? null : presentedSecret(request.headers.authorization)
      if (secret !== null && matches!(secret)) return 'token'
      return local && isLocalRequest(request) ? 'local' : 'authorize'
    },
    /** For /health: whether to show the details (everyone gets the status). */
    allows (request: FastifyRequest): boolean | Promise<boolean> {
      const result = verdict(request)
      return typeof result === 'string' ? result === 'allow' : result.then((value) => value === 'allow')
    },
    /**
     * The onRequest hook of every detailed view. Anything but GET and HEAD must also come from the page's own
     * origin, so that a logged-in browser cannot be made to trigger it from another site.
     */
    hook (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
      if (request.method !== 'GET' && request.method !== 'HEAD' && isCrossSite(request)) {
        sendRefusal(reply, new FST_SERVER_WATCH_CROSS_SITE())
        return
      }
      const result = verdict(request)
      if (result === 'allow') return done()
      if (typeof result === 'string') return refuse(request, reply, result)
      result.then((value) => value === 'allow' ? done() : refuse(request, reply, value), done)
    }
  }
}

export type Access = ReturnType<typeof createAccess>

/** The start-up warning for a production app whose views nobody can open, or '' when there is none. */
export function closedWarning (options: Pick<AccessOptions, 'tokens' | 'authorize' | 'production'>): string {
  if (!options.production || options.tokens !== null || options.authorize !== null) return ''
  return `server-watch: ${REASONS.closed}: the dashboard, /metrics and the details of /health are closed to everyone. ` +
    'Set SERVER_WATCH_TOKEN (or the "token" option) to open them with a token, or give "authorize"'
}
