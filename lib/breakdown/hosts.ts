import { Histogram } from '../histogram.js'
import type { HostFigures } from '../schemas/breakdown.js'

export const MAX_HOSTS = 50
export const OTHER_HOSTS = '(other hosts)'

export class HostStats {
  /** OpenTelemetry attributes by method and status, built once each (lib/breakdown/otel.ts). */
  attributes: Map<string, Record<string, string | number>> | null = null
  calls = 0
  errors = 0
  readonly durations = new Histogram()

  constructor (readonly host: string) {}

  record (durationMs: number, failed: boolean): void {
    this.calls++
    if (failed) this.errors++
    this.durations.record(durationMs)
  }

  figures (): HostFigures {
    const [p50, p95] = [this.durations.percentile(0.5), this.durations.percentile(0.95)]
    return { calls: this.calls, errors: this.errors, p50Ms: p50, p95Ms: p95 }
  }
}

/** Outbound calls by `host:port`: past `MAX_HOSTS` distinct ones, the rest share `(other hosts)`. */
export class HostTable {
  private readonly hosts = new Map<string, HostStats>()

  constructor (private readonly max = MAX_HOSTS) {}

  statsFor (host: string): HostStats {
    let stats = this.hosts.get(host)
    if (stats === undefined) {
      if (this.hosts.size >= this.max) host = OTHER_HOSTS
      stats = this.hosts.get(host) ?? new HostStats(host)
      this.hosts.set(host, stats)
    }
    return stats
  }

  read (): Record<string, HostFigures> {
    const hosts: Record<string, HostFigures> = {}
    for (const [host, stats] of this.hosts) hosts[host] = stats.figures()
    return hosts
  }
}

/** `host:port` of an origin (`https://api.example.com` -> `api.example.com:443`), without building a URL. */
export function hostOfOrigin (origin: string): string {
  const scheme = origin.indexOf('://')
  const rest = scheme === -1 ? origin : origin.slice(scheme + 3)
  const slash = rest.indexOf('/')
  const authority = slash === -1 ? rest : rest.slice(0, slash)
  if (hasPort(authority)) return authority
  return `${authority}:${origin.startsWith('https') || origin.startsWith('wss') ? 443 : 80}`
}

/** An authority ends with a port when its last colon comes after any IPv6 bracket. */
function hasPort (authority: string): boolean {
  const colon = authority.lastIndexOf(':')
  return colon !== -1 && colon > authority.lastIndexOf(']')
}

/** What `node:http`'s ClientRequest tells of where it goes. */
export interface ClientRequestLike {
  readonly host?: string
  readonly protocol?: string
  readonly socket?: { readonly remotePort?: number } | null
  getHeader (name: string): unknown
}

/**
 * `host:port` of an `http.request`: the host it was made to, with the port of its Host header when that names the
 * same host (Node writes it so, leaving a default port out), else the connected socket's, else the protocol's.
 */
export function hostOfClientRequest (request: ClientRequestLike): string {
  const host = request.host ?? 'localhost'
  const header = request.getHeader('host')
  if (typeof header === 'string' && header.startsWith(host) && header.length > host.length && header[host.length] === ':') {
    return `${host}${header.slice(host.length)}`
  }
  const port = request.socket?.remotePort ?? (request.protocol === 'https:' ? 443 : 80)
  return `${host.includes(':') && !host.startsWith('[') ? `[${host}]` : host}:${port}`
}
