/**
 * Outbound HTTP calls, charged to the request that made them, from the diagnostics channels that undici (and so
 * `fetch`) and `node:http` publish: no patching. A call's start is published synchronously in the caller's async
 * context (undici's `request:create` inside `fetch()`; `http.client.request.start` when the request is flushed,
 * also for one that waited for a free agent socket: test/breakdown/outbound.test.ts), so the request is read there.
 * A call ends at its response headers (the body's download is the application's) or at its error; a call's state
 * lives on its own request object under a symbol, and a second end (undici may report two errors) is ignored.
 */
import diagnostics from 'node:diagnostics_channel'
import { currentRequest, type RequestContext, type RequestStorage } from './context.js'
import { HostTable, hostOfClientRequest, hostOfOrigin, type ClientRequestLike, type HostStats } from './hosts.js'
import { OutsideCalls } from './outside.js'

/** Every channel this module reads, with what it does on each. */
const CHANNELS = {
  undiciCreate: 'undici:request:create',
  undiciHeaders: 'undici:request:headers',
  undiciError: 'undici:request:error',
  httpStart: 'http.client.request.start',
  httpResponse: 'http.client.response.finish',
  httpError: 'http.client.request.error'
} as const

interface PendingCall {
  readonly context: RequestContext | null
  readonly startedAt: number
  readonly host: HostStats
  readonly method: string
}

/** Told of every call that ends (OpenTelemetry's `http.client.request.duration`): its status, or 0 for a failure. */
export type CallObserver = (host: HostStats, method: string, statusCode: number, durationMs: number) => void

const kCall = Symbol('serverWatch.breakdown.call')
type Tracked = { [kCall]?: PendingCall | null }

interface UndiciRequest extends Tracked { readonly origin?: string | { readonly origin?: string }, readonly method?: string }
interface ResponseLike { readonly statusCode?: number }

export interface OutboundBreakdown {
  readonly hosts: HostTable
  readonly outside: OutsideCalls
  /** Set once, when OpenTelemetry is configured; null otherwise (a call then pays one comparison). */
  observer: CallObserver | null
  start (): void
  stop (): void
}

/** A response of 500 or more counts as an error of its host, as a call that failed outright does. */
const statusOf = (response: ResponseLike | undefined): number => response?.statusCode ?? 0

export function createOutboundBreakdown ({ storage, now }: { storage: RequestStorage, now: () => number }): OutboundBreakdown {
  const hosts = new HostTable()
  const outside = new OutsideCalls()

  function started (request: Tracked, host: string, method: string | undefined): void {
    const context = currentRequest(storage)
    const at = now()
    context?.outboundStarted(at)
    request[kCall] = { context, startedAt: at, host: hosts.statsFor(host), method: method ?? 'GET' }
  }

  /** `statusCode` 0: the call failed without a response. */
  function ended (request: Tracked, statusCode: number): void {
    const call = request[kCall]
    if (call == null) return
    request[kCall] = null
    const at = now()
    const durationMs = at - call.startedAt
    call.host.record(durationMs, statusCode === 0 || statusCode >= 500)
    if (call.context === null) outside.record(durationMs)
    else call.context.outboundEnded(at)
    if (breakdown.observer !== null) breakdown.observer(call.host, call.method, statusCode, durationMs)
  }

  const handlers: Record<string, (message: unknown) => void> = {
    [CHANNELS.undiciCreate]: (message) => {
      const request = (message as { request: UndiciRequest }).request
      const origin = request.origin
      started(request, hostOfOrigin(typeof origin === 'string' ? origin : origin?.origin ?? 'unknown'), request.method)
    },
    [CHANNELS.undiciHeaders]: (message) => {
      const { request, response } = message as { request: UndiciRequest, response?: ResponseLike }
      ended(request, statusOf(response))
    },
    [CHANNELS.undiciError]: (message) => { ended((message as { request: UndiciRequest }).request, 0) },
    [CHANNELS.httpStart]: (message) => {
      const request = (message as { request: ClientRequestLike & Tracked & { method?: string } }).request
      started(request, hostOfClientRequest(request), request.method)
    },
    [CHANNELS.httpResponse]: (message) => {
      const { request, response } = message as { request: Tracked, response?: ResponseLike }
      ended(request, statusOf(response))
    },
    [CHANNELS.httpError]: (message) => { ended((message as { request: Tracked }).request, 0) }
  }

  const breakdown: OutboundBreakdown = {
    hosts,
    outside,
    observer: null,
    start () {
      for (const [name, handler] of Object.entries(handlers)) diagnostics.subscribe(name, handler)
    },
    stop () {
      for (const [name, handler] of Object.entries(handlers)) diagnostics.unsubscribe(name, handler)
    }
  }
  return breakdown
}
