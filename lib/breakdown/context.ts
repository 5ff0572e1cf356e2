import { AsyncLocalStorage } from 'node:async_hooks'
import type { RouteBreakdown } from './routes.js'

/** Per-request N+1 bookkeeping: how many distinct query shapes one request tracks (the rest are not counted). */
export const SHAPES_PER_REQUEST = 8

/**
 * What one request spends in the database and in outbound calls, kept while it is served. The time is split as it
 * passes: at every call's start and end, the time since the last change goes to "database only", "outbound only"
 * or "both" (a request with nothing running is in the application). So concurrent calls count once (the union of
 * their intervals), in O(1) memory whatever the number of calls, and the three parts and the application's add up
 * to the request's duration exactly.
 */
export class RequestContext {
  /** Set when the response is recorded: calls that start later are outside any request. */
  sealed = false
  private lastChange: number
  private activeDatabase = 0
  private activeOutbound = 0
  databaseOnlyMs = 0
  outboundOnlyMs = 0
  bothMs = 0
  databaseCalls = 0
  outboundCalls = 0
  /** Interned shape ids of this request's commands and how often each ran; created on its first command. */
  shapeIds: Int32Array | null = null
  shapeCounts: Uint16Array | null = null

  constructor (readonly route: RouteBreakdown, readonly start: number) {
    this.lastChange = start
  }

  private advance (now: number): void {
    const elapsed = now - this.lastChange
    if (elapsed > 0) {
      if (this.activeDatabase > 0) {
        if (this.activeOutbound > 0) this.bothMs += elapsed
        else this.databaseOnlyMs += elapsed
      } else if (this.activeOutbound > 0) {
        this.outboundOnlyMs += elapsed
      }
      this.lastChange = now
    }
  }

  databaseStarted (now: number, shapeId: number): void {
    this.advance(now)
    this.activeDatabase++
    this.databaseCalls++
    if (shapeId >= 0) this.countShape(shapeId)
  }

  databaseEnded (now: number): void {
    if (this.sealed) return // clipped at the response: its time after it is not the request's
    this.advance(now)
    this.activeDatabase--
  }

  outboundStarted (now: number): void {
    this.advance(now)
    this.activeOutbound++
    this.outboundCalls++
  }

  outboundEnded (now: number): void {
    if (this.sealed) return
    this.advance(now)
    this.activeOutbound--
  }

  /** The response was recorded at `now`: the calls still running count up to here. Returns the duration. */
  seal (now: number): number {
    this.advance(now)
    this.sealed = true
    return now - this.start
  }

  /** Wall time with at least one database call running. */
  get databaseMs (): number { return this.databaseOnlyMs + this.bothMs }
  get outboundMs (): number { return this.outboundOnlyMs + this.bothMs }

  private countShape (shapeId: number): void {
    const ids = (this.shapeIds ??= new Int32Array(SHAPES_PER_REQUEST).fill(-1))
    const counts = (this.shapeCounts ??= new Uint16Array(SHAPES_PER_REQUEST))
    for (let slot = 0; slot < SHAPES_PER_REQUEST; slot++) {
      if (ids[slot] === shapeId) {
        if (counts[slot]! < 0xffff) counts[slot]!++
        return
      }
      if (ids[slot] === -1) {
        ids[slot] = shapeId
        counts[slot] = 1
        return
      }
    }
  }
}

/**
 * The store each request runs in. One per plugin instance: two apps in one process attribute their own requests
 * (each sees the other's calls as outside its requests).
 */
export type RequestStorage = AsyncLocalStorage<RequestContext>

export function createRequestStorage (): RequestStorage {
  return new AsyncLocalStorage<RequestContext>()
}

/**
 * The request a call that starts now belongs to, or null (none, or one already answered). Read when the call
 * starts, in its own async context: never when it ends, since the end event runs in the driver's or the socket's.
 */
export function currentRequest (storage: RequestStorage): RequestContext | null {
  const context = storage.getStore()
  return context === undefined || context.sealed ? null : context
}
