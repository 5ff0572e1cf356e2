import type { FastifyRequest } from 'fastify'

/**
 * True when the browser says the request comes from another site. `Sec-Fetch-Site` (every current browser sends
 * it) decides alone: anything but same-origin or none (typed in the address bar). Without it, an `Origin` whose
 * host is not the request's `Host` (default ports compared as the URL parser writes them). Clients that send
 * neither (curl, scripts) are not browsers, and cannot be made to send credentials on another site's behalf.
 */
export function isCrossSite (request: FastifyRequest): boolean {
  const headers = request.headers
  const site = headers['sec-fetch-site']
  if (site !== undefined) return site !== 'same-origin' && site !== 'none'
  const origin = headers.origin
  if (origin === undefined) return false
  const host = headers.host ?? (headers[':authority'] as string | undefined)
  try {
    const from = new URL(origin)
    return from.host !== new URL(`${from.protocol}//${host ?? ''}`).host
  } catch {
    return true // "null" (a sandboxed frame, a file: page) or garbage
  }
}
