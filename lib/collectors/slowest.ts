import type { FastifyRequest } from 'fastify'
import { round } from '../format.js'
import type { SlowRequest } from '../schemas/health.js'

export const SLOWEST_SIZE = 10
export const SLOWEST_WINDOW_MS = 5 * 60_000

interface Stored {
  time: number
  method: string
  route: string
  path: string
  statusCode: number
  durationMs: number
}

/**
 * The slowest requests of the last window, in fixed memory. The request path reads one number, `threshold`: a
 * response that is not slower is not looked at. Below it nothing is built; above it, the entry replaces the
 * fastest one kept. The threshold is the p99 of all responses so far (set on the sampling loop), raised to the
 * fastest entry kept once all slots are full, so that only a request that would make the list gets captured.
 */
export class SlowestRequests {
  /** Read on every response: only a request slower than this is captured. */
  threshold = 0
  private floor = 0
  private readonly entries: Array<Stored | undefined>

  constructor (readonly size = SLOWEST_SIZE, readonly windowMs = SLOWEST_WINDOW_MS, private readonly now: () => number = Date.now) {
    this.entries = new Array(size).fill(undefined)
  }

  /** Called only for a response slower than `threshold`. */
  capture (request: FastifyRequest, route: string, statusCode: number, durationMs: number): void {
    let slot = 0
    let fastest = Infinity
    for (let i = 0; i < this.size; i++) {
      const entry = this.entries[i]
      if (entry === undefined) {
        slot = i
        fastest = -1
        break
      }
      if (entry.durationMs < fastest) {
        fastest = entry.durationMs
        slot = i
      }
    }
    if (durationMs <= fastest) return
    const url = request.url
    const query = url.indexOf('?')
    this.entries[slot] = {
      time: this.now(),
      method: request.method,
      route,
      path: (query === -1 ? url : url.slice(0, query)).slice(0, 512),
      statusCode,
      durationMs
    }
    this.updateThreshold()
  }

  /** On the sampling loop: drops what left the window and takes the histogram's current p99 as the floor. */
  tick (now: number, p99Ms: number | null): void {
    for (let i = 0; i < this.size; i++) {
      if (this.entries[i] !== undefined && this.entries[i]!.time <= now - this.windowMs) this.entries[i] = undefined
    }
    this.floor = p99Ms ?? 0
    this.updateThreshold()
  }

  /** Slowest first, within the window at `now`. */
  read (now: number): SlowRequest[] {
    const kept: Stored[] = []
    for (const entry of this.entries) if (entry !== undefined && entry.time > now - this.windowMs) kept.push(entry)
    return kept
      .sort((a, b) => b.durationMs - a.durationMs)
      .map(({ time, durationMs, ...rest }) => ({ timestamp: new Date(time).toISOString(), ...rest, durationMs: round(durationMs, 3) }))
  }

  private updateThreshold (): void {
    let fastest = Infinity
    for (const entry of this.entries) {
      if (entry === undefined) {
        fastest = 0
        break
      }
      if (entry.durationMs < fastest) fastest = entry.durationMs
    }
    this.threshold = Math.max(this.floor, fastest)
  }
}
