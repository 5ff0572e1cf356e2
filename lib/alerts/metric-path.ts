import type { TSchema } from '@sinclair/typebox'
import { HealthSnapshotSchema } from '../schemas/health.js'

/** A figure named by its path in the snapshot, or one endpoint's latency or error rate over the last minute. */
export type MetricPath =
  | { kind: 'path', segments: string[] }
  | { kind: 'endpoint', key: string, field: EndpointField }

const ENDPOINT_FIELDS = ['p50', 'p95', 'p99', 'errorRate'] as const
type EndpointField = typeof ENDPOINT_FIELDS[number]
const ENDPOINT_PATH = /^application\.endpoints\["([^"]+)"\]\.(\w+)$/
const SEGMENT = /^[A-Za-z_][\w-]*$/

/** Numbers, and booleans read as 1 and 0 (`memory.process.heapTrend.rising` above 0). */
function isNumeric (schema: TSchema): boolean {
  if (schema.type === 'number' || schema.type === 'integer' || schema.type === 'boolean') return true
  return Array.isArray(schema.anyOf) && schema.anyOf.some(isNumeric)
}

/** Whether `segments` lead to a number in the snapshot's schema (through unions and records). */
function numericAt (schema: TSchema, segments: readonly string[]): boolean {
  if (Array.isArray(schema.anyOf)) return schema.anyOf.some((variant: TSchema) => numericAt(variant, segments))
  if (segments.length === 0) return isNumeric(schema)
  const [head, ...rest] = segments
  const property = (schema.properties as Record<string, TSchema> | undefined)?.[head!]
  if (property !== undefined) return numericAt(property, rest)
  const pattern = schema.patternProperties as Record<string, TSchema> | undefined
  if (pattern !== undefined) return Object.values(pattern).some((value) => numericAt(value, rest))
  return false
}

/**
 * Parses and checks a rule's `metric` at register time: a dotted path to a number of the snapshot
 * (`eventLoop.delayMs.p99`, `checks.cache.durationMs`), or `application.endpoints["GET /users/:id"].p95`. Returns
 * the reason it is not one, as a string that follows "which" (`is not a number in the /health snapshot`).
 */
export function parseMetricPath (metric: unknown, checkNames: readonly string[]): MetricPath | string {
  if (typeof metric !== 'string' || metric === '') return 'is not a path'
  const endpoint = ENDPOINT_PATH.exec(metric)
  if (endpoint !== null) {
    const field = endpoint[2] as EndpointField
    if (!ENDPOINT_FIELDS.includes(field)) return `names no endpoint figure (one of ${ENDPOINT_FIELDS.join(', ')})`
    return { kind: 'endpoint', key: endpoint[1]!, field }
  }
  const segments = metric.split('.')
  if (!segments.every((segment) => SEGMENT.test(segment))) return 'is not a dotted path'
  // Tables keyed by route or code are not read by rules (they are since start): one route is named in brackets.
  if (segments[0] === 'application' && ['endpoints', 'statusCodes', 'recentErrors'].includes(segments[1]!)) {
    return 'reads a table: name one route as application.endpoints["GET /route"].p95 (p50, p95, p99 or errorRate, over the last minute)'
  }
  if (segments[0] === 'checks' && segments.length > 1 && !checkNames.includes(segments[1]!)) {
    return `names no configured check (${checkNames.length === 0 ? 'none are configured' : checkNames.join(', ')})`
  }
  if (segments[0] === 'alerts' || !numericAt(HealthSnapshotSchema, segments)) {
    return 'is not a number in the /health snapshot'
  }
  return { kind: 'path', segments }
}

/** Reads a dotted path from a snapshot-shaped object: a boolean as 1 or 0, anything but a finite number as null. */
export function readPath (source: unknown, segments: readonly string[]): number | null {
  let value = source
  for (const segment of segments) {
    if (typeof value !== 'object' || value === null) return null
    value = (value as Record<string, unknown>)[segment]
  }
  if (typeof value === 'boolean') return value ? 1 : 0
  return typeof value === 'number' && Number.isFinite(value) ? value : null
}
