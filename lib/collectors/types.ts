import { loggableError } from '../error-text.js'

/** Every source that is not per request: sampled on the plugin's one sampling loop, read by the routes. */
export interface Collector<T> {
  /** Called on the sampling loop only. Never throws or rejects; bounds its own time. Returns nothing when done. */
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
