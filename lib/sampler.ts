import { failureLogger } from './collectors/types.js'

const noop = (): void => {}

/**
 * When the sampling loop's timer is next due (performance.now()), or was while its sample runs; Infinity before
 * start and after close. The Sampler writes it; the event-loop collector reads it, to time the loop's delay from
 * a wake-up that comes anyway. Its own object, so that the collectors exist before the step that samples them.
 */
export class SamplerClock {
  dueAt = Number.POSITIVE_INFINITY
  readonly nextDueAt = (): number => this.dueAt
}

/**
 * The one loop that runs everything that is not per request. A single unref()'d setTimeout, re-armed with
 * refresh() after each sample has finished: unlike setInterval, samples never pile up when one is slow or the
 * loop is busy (under-pressure's "setTimeout vs setInterval"), and the timer never keeps the process alive.
 */
export class Sampler {
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  /** The sample that starts once the one in flight ends: what fresh() callers share meanwhile. */
  private next: Promise<void> | null = null
  private started = false
  private closed = false

  private readonly failures: ReturnType<typeof failureLogger>

  /** The error policy's backstop (lib/collectors/types.ts): a sample that rejects is logged once and the loop goes on. */
  constructor (
    private readonly intervalMs: number,
    private readonly sampleOnce: () => Promise<void>,
    log: { warn: (obj: object, msg: string) => void },
    private readonly clock = new SamplerClock()
  ) {
    this.failures = failureLogger(log, 'the sampling loop')
  }

  /** Takes a first sample now, then one every interval. */
  start (): void {
    if (this.started || this.closed) return
    this.started = true
    this.timer = setTimeout(() => { this.tick() }, this.intervalMs)
    this.timer.unref()
    this.clock.dueAt = performance.now() + this.intervalMs
    this.tick()
  }

  /** A sample now; concurrent callers share the one in flight. */
  sample (): Promise<void> {
    // Through then(): a sampleOnce that throws synchronously rejects like one that rejects.
    this.running ??= Promise.resolve().then(this.sampleOnce).finally(() => { this.running = null })
    return this.running
  }

  /**
   * A sample that starts after this call, so that what the caller did before is in it: the one in flight may have
   * read its figures already, so callers that come while it runs share the next one instead.
   */
  fresh (): Promise<void> {
    if (this.running === null) return this.sample()
    this.next ??= this.running.then(noop, noop).then(() => {
      this.next = null
      return this.sample()
    })
    return this.next
  }

  /** When the loop's timer is next due, or was due if its sample is running now; Infinity before start(). */
  nextDueAt (): number {
    return this.clock.dueAt
  }

  close (): void {
    this.closed = true
    this.clock.dueAt = Number.POSITIVE_INFINITY
    if (this.timer !== null) clearTimeout(this.timer)
  }

  /** Re-arms after every sample, whether it resolved or rejected: one failure must not stop the loop for good. */
  private tick (): Promise<void> {
    return this.sample().then(this.failures.recovered, this.failures.failed).then(() => {
      // refresh() restarts the same timer from now, whether it already fired or is still pending.
      if (!this.closed && this.timer !== null) {
        this.timer.refresh()
        this.clock.dueAt = performance.now() + this.intervalMs
      }
    })
  }
}
