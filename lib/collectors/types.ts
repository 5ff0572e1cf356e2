import { loggableError } from '../error-text.js'

/** Every source that is not per request: sampled on the plugin's one sampling loop, read by the routes. */
export interface Collector<T> {
  /** Called on the sampling loop only. Never throws or rejects; bounds its own time. */
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
