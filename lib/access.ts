import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { FST_SERVER_WATCH_FORBIDDEN } from './errors.js'
import type { Authorize } from './options.js'

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback (::ffff:127.x.x.x). */
export function isLoopback (address: string | undefined): boolean {
  if (address === undefined) return false
  if (address === '::1' || address.startsWith('127.')) return true
  return address.startsWith('::ffff:127.')
}

/**
 * The default `authorize`: loopback clients only. It reads `request.ip`, so behind a reverse proxy with
 * Fastify's `trustProxy` it judges the forwarded client address, not the proxy's.
 */
export const loopbackOnly: Authorize = (request) => isLoopback(request.ip)

/** Resolves whether `request` may read the detailed views; a throwing or rejecting `authorize` denies. */
export function isAuthorized (authorize: Authorize, request: FastifyRequest): Promise<boolean> | boolean {
  let result: boolean | Promise<boolean>
  try {
    result = authorize(request)
  } catch (error) {
    request.log.warn({ err: error }, 'server-watch: authorize threw; access denied')
    return false
  }
  if (typeof (result as Promise<boolean> | undefined)?.then === 'function') {
    return Promise.resolve(result).then((allowed) => allowed === true, (error: unknown) => {
      request.log.warn({ err: error }, 'server-watch: authorize rejected; access denied')
      return false
    })
  }
  return result === true
}

export function forbidden (reply: FastifyReply): void {
  const error = new FST_SERVER_WATCH_FORBIDDEN()
  reply.code(403).header('cache-control', 'no-store').send({
    statusCode: 403,
    code: error.code,
    error: 'Forbidden',
    message: error.message
  })
}

/** An onRequest hook that answers 403 to callers `authorize` does not allow. */
export function createAuthorizeHook (authorize: Authorize) {
  return function authorizeHook (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const allowed = isAuthorized(authorize, request)
    if (allowed === true) return done()
    if (allowed === false) return forbidden(reply)
    allowed.then((ok) => ok ? done() : forbidden(reply), done)
  }
}
