import type { FastifyRequest } from 'fastify'
import { Histogram, bucketIndex } from '../histogram.js'
import { errorCode, errorText } from '../error-text.js'
import { OTHER_STATUS_KEY, requestFigures } from './figures.js'
import type { ApplicationSnapshot, RecentError } from '../schemas/health.js'
import { SlowestRequests } from '../collectors/slowest.js'
import type { RequestCounters } from './counts.js'
import { EndpointTable, type Endpoint } from './endpoint.js'

/** The `statusCodes` key of a status code that is not an integer from 100 to 999. */
export { OTHER_STATUS_KEY }

/**
 * A status code's slot in `RequestMetrics.statusCodes`: itself from 100 to 999, else 0. Codes from 600 up are no
 * HTTP status a client understands, and codes outside 100 to 599 count in the 5xx class and as errors.
 */
export const statusSlot = (statusCode: number): number =>
  statusCode >= 100 && statusCode < 1000 && (statusCode | 0) === statusCode ? statusCode : 0

interface StoredError {
  time: number
  method: string
  route: string
  path: string
  statusCode: number
  message: string
  code: string | undefined
}

/** Called with every response recorded, after the store has counted it (the OpenTelemetry export's duration). */
export type RecordObserver = (endpoint: Endpoint, statusCode: number, durationMs: number) => void

/** What the store is built with besides its bounds: both decided once, at start-up. */
export interface RequestMetricsOptions {
  /** Timeouts are counted: the server has a `connectionTimeout`, so the plugin adds its onTimeout hook. */
  countsTimeouts?: boolean
  /** Sees every recorded response. Chosen here so that a store without one runs the plain `record`. */
  observer?: RecordObserver | null
  /** `prometheus: { statusCode: true }`: each endpoint also keeps its durations by exact status code. */
  byStatusCode?: boolean
}

/**
 * The request figures, fed by the hooks (./hooks.ts) and read by the read model: counters, histograms, endpoints,
 * status codes, recent errors. Fixed memory. It knows no sampling interval and keeps no rate: request rates are
 * computed in one place, the history (lib/history.ts). Only its own methods change it: readers get getters.
 */
export class RequestMetrics implements RequestCounters {
  total = 0
  errorCount = 0
  private active = 0
  private abortedCount = 0
  private shedCount = 0
  private timedOutCount = 0
  /**
   * Indexed by status code, 100 to 999 (what Node lets a response write): one increment per response, no key
   * built. Slot 0 counts any other value (`OTHER_STATUS_KEY`), so that every counted response has a code.
   */
  readonly statusCodes = new Uint32Array(1000)
  readonly histogram = new Histogram()
  private readonly table: EndpointTable
  /** The routes' endpoints by key (the not-found and overflow endpoints are apart). */
  readonly endpoints: ReadonlyMap<string, Endpoint>
  readonly notFound: Endpoint
  readonly overflow: Endpoint
  readonly slowest = new SlowestRequests()
  /** The p99 of all responses as of the last tick, and the response total it was computed at. */
  private p99: number | null = null
  private p99Total = -1
  private readonly recentErrors: Array<StoredError | undefined>
  private nextError = 0
  private readonly observer: RecordObserver | null
  private readonly timeouts: boolean

  constructor (
    maxRoutes: number,
    private readonly maxRecentErrors: number,
    private readonly maxMessageLength: number,
    { countsTimeouts = false, observer = null, byStatusCode = false }: RequestMetricsOptions = {}
  ) {
    this.recentErrors = new Array(maxRecentErrors).fill(undefined)
    this.timeouts = countsTimeouts
    this.observer = observer
    // Chosen once: a store without an observer keeps the prototype's record, with no branch added to it.
    if (observer !== null) this.record = this.recordObserved
    this.table = new EndpointTable(maxRoutes, byStatusCode)
    this.endpoints = this.table.byKey
    this.notFound = this.table.notFound
    this.overflow = this.table.overflow
  }

  /** Whether timeouts are counted at all (see RequestsView): fixed at construction. */
  get countsTimeouts (): boolean { return this.timeouts }
  /** Requests being served now. */
  get inFlight (): number { return this.active }
  /** Requests whose client left before the response was written in full. */
  get aborted (): number { return this.abortedCount }
  /** Requests refused by load shedding (lib/alerts/shedding.ts), counted nowhere else. */
  get shed (): number { return this.shedCount }
  /** Requests whose socket hit Fastify's connectionTimeout (only counted with `countsTimeouts`). */
  get timedOut (): number { return this.timedOutCount }

  /** A request entered the hooks: in flight until it is recorded, handed over, aborted or shed. */
  started (): void { this.active++ }
  /** A request in flight left without being aborted (recorded, handed over, or shed: see `shedOne`). */
  left (): void { this.active-- }
  /** A request in flight whose client left before its response was written. */
  abortedInFlight (): void {
    this.active--
    this.abortedCount++
  }

  /** A request whose connection had already gone when our first hook saw it: never in flight. */
  abortedBeforeStart (): void { this.abortedCount++ }
  /** A request refused by load shedding (the hook calls `left` too if it was in flight). */
  shedOne (): void { this.shedCount++ }
  timedOutOne (): void { this.timedOutCount++ }

  /** The shared stats object of `METHOD pattern`: a new one until `maxRoutes` keys exist, then the overflow. */
  endpointFor (method: string, url: string): Endpoint {
    return this.table.endpointFor(method, url)
  }

  /** Every endpoint with its shared buckets, in the order they were first used. */
  allEndpoints (): Endpoint[] {
    return this.table.all()
  }

  record (endpoint: Endpoint, statusCode: number, durationMs: number): void {
    const index = bucketIndex(durationMs)
    this.total++
    this.histogram.recordAt(index, durationMs)
    const slot = statusSlot(statusCode)
    const statusClass = slot >= 100 && slot < 600 ? (slot / 100) | 0 : 5
    endpoint.record(index, statusClass, durationMs, slot)
    this.statusCodes[slot]!++
    if (statusClass === 5) this.errorCount++
  }

  /** `record` when an observer was given: counted first, then observed. */
  private recordObserved (endpoint: Endpoint, statusCode: number, durationMs: number): void {
    RequestMetrics.prototype.record.call(this, endpoint, statusCode, durationMs)
    this.observer!(endpoint, statusCode, durationMs)
  }

  /** Anything can be thrown (null, a Proxy, a BigInt message): only strings are stored, so snapshots always serialise. */
  recordError (request: FastifyRequest, route: string, statusCode: number, error: unknown): void {
    if (this.maxRecentErrors === 0) return
    const url = request.url
    const query = url.indexOf('?')
    this.recentErrors[this.nextError] = {
      time: Date.now(),
      method: request.method,
      route,
      path: (query === -1 ? url : url.slice(0, query)).slice(0, 512),
      statusCode,
      message: errorText(error, this.maxMessageLength),
      code: errorCode(error)
    }
    this.nextError = (this.nextError + 1) % this.maxRecentErrors
  }

  /** Called on the sampling loop: the slowest-requests threshold follows the p99 of all responses. */
  tick (now: number): void {
    // The p99 changes only with a response: not recomputed over the 722 buckets on an idle server's samples.
    if (this.total !== this.p99Total) {
      this.p99Total = this.total
      this.p99 = this.histogram.percentile(0.99)
    }
    this.slowest.tick(now, this.p99)
  }

  /** The application figures but the rate and the recent window, which the read model adds. */
  snapshot (now: number): Omit<ApplicationSnapshot, 'recent' | 'requestsPerSecond' | 'errorGroups'> {
    return {
      ...requestFigures(this),
      recentErrors: this.readRecentErrors(),
      slowestRequests: this.slowest.read(now)
    }
  }

  /** The recent errors, newest first (what the shared directory carries to the other processes). */
  recentErrorList (): RecentError[] {
    return this.readRecentErrors()
  }

  private readRecentErrors (): RecentError[] {
    const errors: RecentError[] = []
    const size = this.recentErrors.length
    for (let i = 1; i <= size; i++) {
      const stored = this.recentErrors[(this.nextError - i + size) % size]
      if (stored === undefined) break
      const { time, code, ...rest } = stored
      errors.push({ timestamp: new Date(time).toISOString(), ...rest, ...(code === undefined ? {} : { code }) })
    }
    return errors
  }
}
