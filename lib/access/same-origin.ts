import type { FastifyRequest } from 'fastify'

/**
 * True when the browser says the request comes from another site: `Sec-Fetch-Site` other than same-origin or none
 * (typed in the address bar), or an `Origin` whose host is not this request's `Host`. Clients that send neither
 * (curl, scripts) are not browsers, and cannot be made to send credentials on another site's behalf.
 */
export function isCrossSite (request: FastifyRequest): boolean {
  const headers = request.headers
  const site = headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return true
  const origin = headers.origin
  if (origin === undefined) return false
  const host = (headers.host ?? (headers[':authority'] as string | undefined))?.toLowerCase()
  try {
    return new URL(origin).host !== host
  } catch {
    return true // "null" (a sandboxed frame, a file: page) or garbage
  }
}
