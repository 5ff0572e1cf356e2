/**
 * The one loop that runs everything that is not per request. A single unref()'d setTimeout, re-armed with
 * refresh() after each sample has finished: unlike setInterval, samples never pile up when one is slow or the
 * loop is busy (under-pressure's "setTimeout vs setInterval"), and the timer never keeps the process alive.
 */
export class Sampler {
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private started = false
  private closed = false

  /** `sampleOnce` must not reject: each collector guards itself. */
  constructor (private readonly intervalMs: number, private readonly sampleOnce: () => Promise<void>) {}

  /** Takes a first sample now, then one every interval. */
  start (): void {
    if (this.started || this.closed) return
    this.started = true
    this.timer = setTimeout(() => { this.tick() }, this.intervalMs)
    this.timer.unref()
    this.tick()
  }

  /** A sample now; concurrent callers share the one in flight. */
  sample (): Promise<void> {
    this.running ??= this.sampleOnce().finally(() => { this.running = null })
    return this.running
  }

  close (): void {
    this.closed = true
    if (this.timer !== null) clearTimeout(this.timer)
  }

  private tick (): void {
    this.sample().then(() => {
      // refresh() restarts the same timer from now, whether it already fired or is still pending.
      if (!this.closed) this.timer?.refresh()
    }, () => {})
  }
}
