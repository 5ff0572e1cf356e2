/**
 * Occurrences per minute over the last hour, in fixed memory: 60 counters, slot `minute % 60` for the minute since
 * the epoch, and the newest minute written. Every process puts a given minute in the same slot, so two series add
 * up slot by slot once aligned on the later newest minute: the merge is exact.
 */
export const MINUTES = 60
const MINUTE_MS = 60_000

export const minuteOf = (timeMs: number): number => Math.floor(timeMs / MINUTE_MS)

export class MinuteSeries {
  readonly counts = new Float64Array(MINUTES)
  /** The newest minute counted (minutes since the epoch); -Infinity while empty. */
  newest = -Infinity

  /** Counts `n` occurrences in minute `minute`; a minute older than the last hour is dropped. */
  add (minute: number, n = 1): void {
    if (minute > this.newest) this.advanceTo(minute)
    else if (minute <= this.newest - MINUTES) return
    this.counts[minute % MINUTES]! += n
  }

  /** Moves the newest minute to `minute`, clearing the slots of the minutes skipped. */
  advanceTo (minute: number): void {
    if (minute <= this.newest) return
    if (minute - this.newest >= MINUTES) this.counts.fill(0)
    else for (let m = this.newest + 1; m <= minute; m++) this.counts[m % MINUTES] = 0
    this.newest = minute
  }

  /** The 60 minutes ending with `minute`, oldest first (what the snapshot shows: a full hour up to now). */
  read (minute: number): number[] {
    const out = new Array<number>(MINUTES)
    for (let i = 0; i < MINUTES; i++) {
      const m = minute - MINUTES + 1 + i
      out[i] = m <= this.newest && m > this.newest - MINUTES ? this.counts[m % MINUTES]! : 0
    }
    return out
  }

  /**
   * Occurrences over the 60 s up to `timeMs`, as a sliding window over two minutes: the current minute's count plus
   * the previous minute's weighted by the part of it still inside the window (the rate limiters' estimate).
   */
  lastMinute (timeMs: number): number {
    const minute = minuteOf(timeMs)
    const at = (m: number) => m <= this.newest && m > this.newest - MINUTES ? this.counts[m % MINUTES]! : 0
    const elapsed = (timeMs - minute * MINUTE_MS) / MINUTE_MS
    return Math.round((at(minute) + at(minute - 1) * (1 - elapsed)) * 100) / 100
  }

  /** Adds another series: the minutes of the last hour as of the later of the two. */
  addSeries (other: MinuteSeries): void {
    if (other.newest === -Infinity) return
    this.advanceTo(other.newest)
    for (let m = Math.max(other.newest - MINUTES + 1, this.newest - MINUTES + 1); m <= other.newest; m++) {
      this.counts[m % MINUTES]! += other.counts[m % MINUTES]!
    }
  }

  /** `{ newest, counts }` with counts oldest first: the persisted form. */
  toJSON (): { newest: number | null, counts: number[] } {
    return this.newest === -Infinity ? { newest: null, counts: [] } : { newest: this.newest, counts: this.read(this.newest) }
  }

  static fromJSON (stored: { newest: number | null, counts: readonly number[] }): MinuteSeries {
    const series = new MinuteSeries()
    if (stored.newest === null) return series
    const first = stored.newest - stored.counts.length + 1
    series.advanceTo(stored.newest)
    stored.counts.forEach((n, i) => { if (n > 0) series.add(first + i, n) })
    return series
  }
}
