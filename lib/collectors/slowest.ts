import type { FastifyRequest } from 'fastify'
import { round } from '../format.js'
import type { SlowRequest } from '../schemas/health.js'
import { SlowestList, type Timed } from './slowest-list.js'

export const SLOWEST_SIZE = 10
export const SLOWEST_WINDOW_MS = 5 * 60_000

interface Stored extends Timed {
  method: string
  route: string
  path: string
  statusCode: number
}

/**
 * The slowest requests of the last window, in fixed memory. The request path reads one number, `threshold`: a
 * response that is not slower is not looked at. Below it nothing is built; above it, the entry replaces the
 * fastest one kept. The threshold is the p99 of all responses so far (set on the sampling loop), raised to the
 * fastest entry kept once all slots are full, so that only a request that would make the list gets captured.
 */
export class SlowestRequests extends SlowestList<Stored> {
  constructor (size = SLOWEST_SIZE, windowMs = SLOWEST_WINDOW_MS, private readonly now: () => number = Date.now) {
    super(size, windowMs)
  }

  /** Called only for a response slower than `threshold`. */
  capture (request: FastifyRequest, route: string, statusCode: number, durationMs: number): void {
    const slot = this.slotFor(durationMs)
    if (slot === -1) return
    const url = request.url
    const query = url.indexOf('?')
    this.put(slot, {
      time: this.now(),
      method: request.method,
      route,
      path: (query === -1 ? url : url.slice(0, query)).slice(0, 512),
      statusCode,
      durationMs
    })
  }

  /** On the sampling loop: drops what left the window and takes the histogram's current p99 as the floor. */
  tick (now: number, p99Ms: number | null): void {
    this.expire(now, p99Ms ?? 0)
  }

  /** Slowest first, within the window at `now`. */
  read (now: number): SlowRequest[] {
    return this.kept(now).map(({ time, durationMs, ...rest }) => ({ timestamp: new Date(time).toISOString(), ...rest, durationMs: round(durationMs, 3) }))
  }
}
