import { loggableError } from '../error-text.js'

/*
 * The error policy, for every collector and the one loop that samples them:
 *
 * - A collector's `sample()` never throws or rejects. What it cannot read, it catches where it reads it, logs
 *   once through `failureLogger` (again only after it has recovered) and reports as null until the next sample
 *   that succeeds; the figures it could read stay. A failure that is the figure itself (a check's `fail`, the
 *   database's `unhealthy`) is recorded as that figure, not logged as a fault.
 * - The sample step (lib/watch/sample.ts) does not guard the collectors again. The sampling loop (lib/sampler.ts) has
 *   the one backstop: should a sample still reject (a bug), it logs once and re-arms, so the loop never stops.
 */

/** Every source that is not per request: sampled on the plugin's one sampling loop, read by the read model. */
export interface Collector<T> {
  /** Called on the sampling loop only. Never throws or rejects (the policy above); bounds its own time. */
  sample (): Promise<void> | void
  /** The last sample: cheap, never does I/O. */
  read (): T
  /** Removes every listener and timer it added. Never closes anything it was given. */
  close (): void
}

/** Logs a collector's failure once, not once a second, and resets when it recovers. */
export function failureLogger (log: { warn: (obj: object, msg: string) => void }, what: string) {
  let failing = false
  return {
    failed (error: unknown): void {
      if (failing) return
      failing = true
      log.warn({ err: loggableError(error) }, `server-watch: ${what} failed; its figures are null until it recovers`)
    },
    recovered (): void {
      failing = false
    }
  }
}

/**
 * Slow-changing figures (system memory, heap spaces, load average, threads, descriptors) are read on every 5th
 * sample only, so they may be up to 4 samples old: each read is a wake-up or a /proc parse that the sampling
 * loop's idle cost is made of (benchmark/README.md).
 */
export const SLOW_FIGURES_EVERY = 5

/** True on the first call and on every `n`th after it. */
export function everyNth (n = SLOW_FIGURES_EVERY): () => boolean {
  let calls = 0
  return () => calls++ % n === 0
}
