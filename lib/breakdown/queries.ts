import { SlowestList, type Timed } from '../collectors/slowest-list.js'
import { round } from '../format.js'
import type { NPlusOnePattern, SlowQuery } from '../schemas/breakdown.js'

export const SLOW_QUERIES_SIZE = 10
export const SLOW_QUERIES_WINDOW_MS = 5 * 60_000
export const MAX_SHAPES = 500
export const MAX_N_PLUS_ONE = 20

interface StoredQuery extends Timed {
  command: string
  collection: string | null
  shape: string
  endpoint: string
}

/**
 * The slowest commands of the last window, in fixed memory. A command that ends reads one number, `threshold`:
 * one not slower is not looked at. Once the slots are full, an entry replaces the fastest one kept; entries older
 * than the window leave when the list is read or written.
 */
export class SlowQueries extends SlowestList<StoredQuery> {
  constructor (size = SLOW_QUERIES_SIZE, windowMs = SLOW_QUERIES_WINDOW_MS, private readonly now: () => number = Date.now) {
    super(size, windowMs)
  }

  /** Called only for a command slower than `threshold`. */
  capture (command: string, collection: string | null, shape: string, durationMs: number, endpoint: string): void {
    const now = this.now()
    this.expire(now)
    const slot = this.slotFor(durationMs)
    if (slot !== -1) this.put(slot, { time: now, command, collection, shape, durationMs, endpoint })
  }

  read (): SlowQuery[] {
    const now = this.now()
    this.expire(now)
    return this.kept(now).map(({ time, durationMs, ...rest }) => ({ ...rest, durationMs: round(durationMs), at: new Date(time).toISOString() }))
  }
}

/**
 * Query shapes by small integer ids, so that a request counts its commands per shape in a typed array. Bounded: past
 * `MAX_SHAPES` distinct shapes, new ones get no id (-1) and are not counted for N+1.
 */
export class ShapeRegistry {
  private readonly ids = new Map<string, number>()
  private readonly shapes: string[] = []

  constructor (private readonly max = MAX_SHAPES) {}

  idOf (shape: string): number {
    let id = this.ids.get(shape)
    if (id === undefined) {
      if (this.shapes.length >= this.max) return -1
      id = this.shapes.length
      this.shapes.push(shape)
      this.ids.set(shape, id)
    }
    return id
  }

  shape (id: number): string {
    return this.shapes[id] ?? '?'
  }
}

interface PatternCounts {
  endpoint: string
  shapeId: number
  requests: number
  calls: number
}

/** The N+1 patterns seen: per route and shape, the requests that ran it too often and their calls. Bounded. */
export class NPlusOneTable {
  private readonly patterns = new Map<string, PatternCounts>()

  constructor (private readonly shapes: ShapeRegistry, private readonly max = MAX_N_PLUS_ONE) {}

  record (endpoint: string, shapeId: number, calls: number): void {
    const key = `${shapeId} ${endpoint}`
    let pattern = this.patterns.get(key)
    if (pattern === undefined) {
      if (this.patterns.size >= this.max) return
      pattern = { endpoint, shapeId, requests: 0, calls: 0 }
      this.patterns.set(key, pattern)
    }
    pattern.requests++
    pattern.calls += calls
  }

  /** The patterns, the most frequent first. */
  read (): NPlusOnePattern[] {
    return [...this.patterns.values()]
      .sort((a, b) => b.requests - a.requests)
      .map(({ endpoint, shapeId, requests, calls }) => ({
        endpoint,
        shape: this.shapes.shape(shapeId),
        callsPerRequest: round(calls / requests, 2),
        requests
      }))
  }
}
