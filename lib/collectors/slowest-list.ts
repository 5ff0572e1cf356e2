/** What a slowest list keeps of each entry, besides its own fields. */
export interface Timed {
  /** When it was captured (ms since the epoch). */
  time: number
  durationMs: number
}

/**
 * The slowest entries of the last window, in fixed slots: the one mechanism behind the slowest requests
 * (lib/collectors/slowest.ts) and the slowest database commands (lib/breakdown/queries.ts). The hot path reads one
 * number, `threshold`: an entry not slower is not looked at, and nothing is built for it. Above it, the entry
 * takes a free slot or replaces the fastest one kept. The threshold is the fastest entry kept once every slot is
 * full (0 while one is free), raised to `floor` when the owner sets one. Owners extend it, so that `threshold`
 * stays a plain field on the hot path.
 */
export class SlowestList<T extends Timed> {
  /** Read on every candidate: only one slower than this is captured. */
  threshold = 0
  private floor = 0
  private readonly entries: Array<T | undefined>

  constructor (readonly size: number, readonly windowMs: number) {
    this.entries = new Array(size).fill(undefined)
  }

  /** The slot an entry of `durationMs` would take, or -1 when it would not make the list. */
  slotFor (durationMs: number): number {
    let slot = -1
    let fastest = Infinity
    for (let i = 0; i < this.size; i++) {
      const entry = this.entries[i]
      if (entry === undefined) return i
      if (entry.durationMs < fastest) {
        fastest = entry.durationMs
        slot = i
      }
    }
    return durationMs > fastest ? slot : -1
  }

  /** Keeps `entry` in `slot` (from `slotFor`). */
  put (slot: number, entry: T): void {
    this.entries[slot] = entry
    this.updateThreshold()
  }

  /** Drops what left the window at `now`, and sets the floor under the threshold (0: none). */
  expire (now: number, floor = this.floor): void {
    for (let i = 0; i < this.size; i++) {
      if (this.entries[i] !== undefined && this.entries[i]!.time <= now - this.windowMs) this.entries[i] = undefined
    }
    this.floor = floor
    this.updateThreshold()
  }

  /** The entries within the window at `now`, slowest first. */
  kept (now: number): T[] {
    const kept: T[] = []
    for (const entry of this.entries) if (entry !== undefined && entry.time > now - this.windowMs) kept.push(entry)
    return kept.sort((a, b) => b.durationMs - a.durationMs)
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
