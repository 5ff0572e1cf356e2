/**
 * `http.client.request.duration` for outbound calls, in seconds, when OpenTelemetry is configured and
 * `breakdown.outbound` is on (the calls are seen through its diagnostics channels). Attributes as the HTTP semantic
 * conventions ask: `http.request.method`, `server.address`, `server.port`, `http.response.status_code`, and
 * `error.type` for a failure or a 5xx; built once per host, method and status, never per call.
 */
import { HTTP_DURATION_BOUNDS } from '../prometheus/buckets.js'
import type { OtelMeter } from '../otel/types.js'
import { OTHER_HOSTS, type HostStats } from './hosts.js'
import type { OutboundBreakdown } from './outbound.js'

const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE', 'QUERY'])

/** Starts recording; returns the function that stops. */
export function exportOutboundCalls (meter: OtelMeter, outbound: OutboundBreakdown): () => void {
  const duration = meter.createHistogram('http.client.request.duration', {
    description: 'Duration of outbound HTTP requests, to their response headers',
    unit: 's',
    advice: { explicitBucketBoundaries: [...HTTP_DURATION_BOUNDS] }
  })
  outbound.observer = (host, method, statusCode, durationMs) => {
    duration.record(durationMs / 1000, attributesOf(host, method, statusCode))
  }
  return () => { outbound.observer = null }
}

function attributesOf (host: HostStats, method: string, statusCode: number): Record<string, string | number> {
  const known = KNOWN_METHODS.has(method) ? method : '_OTHER'
  const key = `${known} ${statusCode}`
  const byKey = (host.attributes ??= new Map())
  let attributes = byKey.get(key)
  if (attributes === undefined) {
    attributes = { 'http.request.method': known }
    if (host.host !== OTHER_HOSTS) {
      const colon = host.host.lastIndexOf(':')
      attributes['server.address'] = host.host.slice(0, colon).replace(/^\[|\]$/g, '')
      attributes['server.port'] = Number(host.host.slice(colon + 1))
    }
    if (statusCode > 0) attributes['http.response.status_code'] = statusCode
    if (statusCode === 0 || statusCode >= 500) attributes['error.type'] = statusCode === 0 ? '_OTHER' : String(statusCode)
    byKey.set(key, attributes)
  }
  return attributes
}
