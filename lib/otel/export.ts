/**
 * The OpenTelemetry export (`openTelemetry: { meterProvider }`): the plugin's aggregates handed to the user's
 * MeterProvider under the semantic-convention names. Everything but the request duration is an observable
 * instrument, read in one batch callback when the provider collects: nothing is added to the request path for it.
 */
import { readFileSync } from 'node:fs'
import { getHeapSpaceStatistics } from 'node:v8'
import { NOT_FOUND_KEY, type Endpoint } from '../requests/endpoint.js'
import type { RecordObserver } from '../requests/store.js'
import type { RequestCounters } from '../requests/counts.js'
import { HTTP_DURATION_BOUNDS } from '../prometheus/buckets.js'
import type { CustomMetrics } from '../custom/registry.js'
import type { SampledSnapshot } from '../watch.js'
import { exportCustomMetrics } from './custom.js'
import { exportMongoOperations, type CommandEvents } from './mongo.js'
import { exportOutboundCalls } from '../breakdown/otel.js'
import type { OutboundBreakdown } from '../breakdown/outbound.js'
import type { OtelAttributes, OtelBatchCallback, OtelHistogram, OtelMeterProvider, OtelObservable } from './types.js'

export const METER_NAME = 'fastify-server-watch'
const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
/** The methods the HTTP semantic conventions know; any other is reported as `_OTHER`. */
const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE', 'QUERY'])
/** The MongoDB pool in `db.client.connection.*`: the driver gives its pools no name. */
export const MONGO_POOL_NAME = 'mongodb'

export interface ExportSource {
  requests: RequestCounters
  sampled (): SampledSnapshot
  /** The app's own metrics: exported as they are registered. */
  custom?: CustomMetrics
  /** The watched MongoClient, for `db.client.operation.duration`. */
  mongoClient?: CommandEvents | null
  /** With `breakdown.outbound`: the outbound calls, for `http.client.request.duration`. */
  outbound?: OutboundBreakdown | null
}

/**
 * `http.server.request.duration`, the one synchronous instrument: the OpenTelemetry API has no observable
 * histogram, and its histograms take single values, so a pre-aggregated histogram cannot be handed over. Each
 * request's duration is recorded into it once, in seconds, with buckets on the plugin's Prometheus bounds, by the
 * observer the request store is built with (lib/requests/store.ts): a store without one runs no extra code.
 */
export function exportRequestDurations (meterProvider: OtelMeterProvider): { observer: RecordObserver, stop (): void } {
  const duration = meterProvider.getMeter(METER_NAME, PACKAGE_VERSION).createHistogram('http.server.request.duration', {
    description: 'Duration of HTTP server requests',
    unit: 's',
    advice: { explicitBucketBoundaries: [...HTTP_DURATION_BOUNDS] }
  })
  const attributesByEndpoint = new WeakMap<Endpoint, Map<number, OtelAttributes>>()
  function attributesOf (endpoint: Endpoint, statusCode: number): OtelAttributes {
    let byStatus = attributesByEndpoint.get(endpoint)
    if (byStatus === undefined) attributesByEndpoint.set(endpoint, (byStatus = new Map()))
    let attributes = byStatus.get(statusCode)
    if (attributes === undefined) byStatus.set(statusCode, (attributes = requestAttributes(endpoint, statusCode)))
    return attributes
  }
  // Stopping swaps the sink rather than adding a test to every request.
  let sink: OtelHistogram = duration
  return {
    observer: (endpoint, statusCode, durationMs) => { sink.record(durationMs / 1000, attributesOf(endpoint, statusCode)) },
    stop () { sink = STOPPED }
  }
}

const STOPPED: OtelHistogram = { record () {} }

/**
 * Creates the observable instruments once and starts feeding them; returns the function that stops. The request
 * duration is exportRequestDurations's.
 */
export function exportOpenTelemetry (meterProvider: OtelMeterProvider, source: ExportSource): () => void {
  const meter = meterProvider.getMeter(METER_NAME, PACKAGE_VERSION)
  const { requests } = source

  const gauge = (name: string, unit: string, description: string) => meter.createObservableGauge(name, { unit, description })
  const upDown = (name: string, unit: string, description: string) => meter.createObservableUpDownCounter(name, { unit, description })
  const instruments = {
    activeRequests: upDown('http.server.active_requests', '{request}', 'Number of active HTTP server requests'),
    delayP50: gauge('nodejs.eventloop.delay.p50', 's', 'Event loop delay, 50th percentile over the last sample interval'),
    delayP99: gauge('nodejs.eventloop.delay.p99', 's', 'Event loop delay, 99th percentile over the last sample interval'),
    delayMax: gauge('nodejs.eventloop.delay.max', 's', 'Event loop delay, maximum over the last sample interval'),
    utilization: gauge('nodejs.eventloop.utilization', '1', 'Event loop utilization over the last sample interval'),
    heapUsed: upDown('v8js.memory.heap.used', 'By', 'Heap memory used, by V8 heap space'),
    heapLimit: upDown('v8js.memory.heap.limit', 'By', 'Heap memory size allocated, by V8 heap space'),
    heapAvailable: upDown('v8js.memory.heap.space.available_size', 'By', 'Heap space available size, by V8 heap space'),
    cpuTime: meter.createObservableCounter('process.cpu.time', { unit: 's', description: 'CPU time of this process, by mode' }),
    cpuUtilization: gauge('process.cpu.utilization', '1', 'CPU time of this process over the last sample interval, divided by the elapsed time and the number of CPUs'),
    memoryUsage: upDown('process.memory.usage', 'By', 'Resident memory of this process'),
    memoryVirtual: upDown('process.memory.virtual', 'By', 'Virtual memory of this process'),
    threads: upDown('process.thread.count', '{thread}', 'Threads of this process'),
    dbConnections: upDown('db.client.connection.count', '{connection}', 'Connections of the MongoDB pool, by state'),
    dbPending: upDown('db.client.connection.pending_requests', '{request}', 'Pending requests for a MongoDB pool connection')
  }
  const observables: OtelObservable[] = Object.values(instruments)
  const userMode = { 'cpu.mode': 'user' }
  const systemMode = { 'cpu.mode': 'system' }
  const used = { 'db.client.connection.state': 'used', 'db.client.connection.pool.name': MONGO_POOL_NAME }
  const idle = { 'db.client.connection.state': 'idle', 'db.client.connection.pool.name': MONGO_POOL_NAME }
  const pool = { 'db.client.connection.pool.name': MONGO_POOL_NAME }

  const observe: OtelBatchCallback = (result) => {
    const snapshot = source.sampled()
    const put = (instrument: OtelObservable, value: number | null | undefined, attributes?: OtelAttributes) => {
      if (value !== null && value !== undefined) result.observe(instrument, value, attributes)
    }
    put(instruments.activeRequests, Math.max(0, requests.inFlight))
    const { delayMs, utilization } = snapshot.eventLoop
    put(instruments.delayP50, seconds(delayMs.p50))
    put(instruments.delayP99, seconds(delayMs.p99))
    put(instruments.delayMax, seconds(delayMs.max))
    put(instruments.utilization, utilization)
    for (const space of getHeapSpaceStatistics()) {
      const attributes = { 'v8js.heap.space.name': space.space_name }
      put(instruments.heapUsed, space.space_used_size, attributes)
      put(instruments.heapLimit, space.space_size, attributes)
      put(instruments.heapAvailable, space.space_available_size, attributes)
    }
    const usage = process.cpuUsage()
    put(instruments.cpuTime, usage.user / 1e6, userMode)
    put(instruments.cpuTime, usage.system / 1e6, systemMode)
    put(instruments.cpuUtilization, snapshot.cpu.processPercent === null ? null : snapshot.cpu.processPercent / 100)
    const memory = snapshot.memory.process
    put(instruments.memoryUsage, memory.rss)
    put(instruments.memoryVirtual, memory.vms)
    put(instruments.threads, memory.numThreads)
    const db = snapshot.database
    if (db.status !== 'not_configured' && db.pool !== undefined) {
      put(instruments.dbConnections, db.pool.inUse, used)
      put(instruments.dbConnections, db.pool.available, idle)
      put(instruments.dbPending, db.pool.waiting, pool)
    }
  }
  meter.addBatchObservableCallback(observe, observables)
  const stopCustom = source.custom === undefined ? null : exportCustomMetrics(meter, source.custom)
  const stopMongo = source.mongoClient == null ? null : exportMongoOperations(meter, source.mongoClient)
  const stopOutbound = source.outbound == null ? null : exportOutboundCalls(meter, source.outbound)

  return () => {
    stopCustom?.()
    stopMongo?.()
    stopOutbound?.()
    meter.removeBatchObservableCallback(observe, observables)
  }
}

const seconds = (ms: number | null): number | null => ms === null ? null : ms / 1000

/**
 * `http.request.method`, `http.route` (left out when no route matched), `http.response.status_code`, and
 * `error.type` for a 5xx as the conventions ask; built once per endpoint and status code, not per request.
 */
function requestAttributes (endpoint: Endpoint, statusCode: number): OtelAttributes {
  const attributes: OtelAttributes = { 'http.request.method': KNOWN_METHODS.has(endpoint.method) ? endpoint.method : '_OTHER' }
  if (endpoint.route !== NOT_FOUND_KEY) attributes['http.route'] = endpoint.route
  attributes['http.response.status_code'] = statusCode
  if (statusCode >= 500) attributes['error.type'] = String(statusCode)
  return attributes
}
