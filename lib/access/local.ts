import type { FastifyRequest } from 'fastify'

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback (::ffff:127.x.x.x). */
export function isLoopbackAddress (address: string | undefined): boolean {
  if (address === undefined) return false
  if (address === '::1' || address.startsWith('127.')) return true
  return address.startsWith('::ffff:127.')
}

const LOOPBACK_HOST = /^(?:localhost|127(?:\.\d{1,3}){3}|\[::1\]|\[::ffff:127(?:\.\d{1,3}){3}\])(?::\d{1,5})?$/i

/**
 * `localhost`, `127.x.x.x` or `[::1]`, with any port. A name an attacker controls (DNS rebinding: evil.example
 * resolving to 127.0.0.1) never matches, so a page from another site cannot read the views through the browser.
 */
export function isLoopbackHost (host: string | undefined): boolean {
  return host !== undefined && LOOPBACK_HOST.test(host)
}

/** Headers by which a proxy says it is relaying someone else's request (standard and common vendor ones). */
export const FORWARDING_HEADERS = [
  'forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-server',
  'x-real-ip', 'via', 'x-client-ip', 'client-ip', 'true-client-ip', 'cf-connecting-ip', 'fastly-client-ip',
  'x-cluster-client-ip', 'x-original-forwarded-for', 'x-forwarded'
]

/**
 * The default rule: a request made on this host, directly. The socket's own peer address (never `request.ip`,
 * which `trustProxy` takes from a header) is loopback, no forwarding header says a proxy relayed it, and `Host`
 * is a loopback name. A proxy on this host that strips forwarding headers and rewrites Host (nginx's bare
 * `proxy_pass` does both) defeats it: that is why production closes the views unless a token or `authorize` is set.
 */
export function isLocalRequest (request: FastifyRequest): boolean {
  if (!isLoopbackAddress(request.socket?.remoteAddress)) return false
  const headers = request.headers
  for (const name of FORWARDING_HEADERS) {
    if (headers[name] !== undefined) return false
  }
  // HTTP/2 carries the host in :authority; Node's compatibility layer leaves `host` unset then.
  const host = headers.host ?? (headers[':authority'] as string | undefined)
  return isLoopbackHost(host)
}
