import type { MongoDocument as Document } from './client-types.js'

/** The deadline of an own command passed: the driver did not answer, and may know why (see failureCause). */
export class DeadlineError extends Error {
  override name = 'DeadlineError'
}

/**
 * One of the collector's own commands: never two in flight (a run that outlives its deadline blocks the next one
 * until the driver settles it), each bounded by a deadline that aborts it through the driver's `signal` option,
 * and whose timer is cleared as soon as it settles.
 */
export class OwnCommand {
  private pending = false
  private cancel: ((reason: Error) => void) | null = null

  constructor (
    private readonly run: (signal: AbortSignal) => Promise<Document>,
    private readonly timeoutMs: number,
    private readonly what: string
  ) {}

  get busy (): boolean { return this.pending }

  /** The reply, or a rejection with the error or at the deadline; null while the previous run is unsettled. */
  start (): Promise<Document> | null {
    if (this.pending) return null
    this.pending = true
    const controller = new AbortController()
    let work: Promise<Document>
    try {
      work = this.run(controller.signal)
    } catch (error) {
      work = Promise.reject(error)
    }
    const settled = (): void => { this.pending = false }
    work.then(settled, settled)
    return new Promise<Document>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.stop(new DeadlineError(`${this.what} timed out after ${this.timeoutMs} ms`))
      }, this.timeoutMs)
      const done = (): void => { clearTimeout(timer); this.cancel = null }
      this.cancel = (reason) => { done(); controller.abort(reason); reject(reason) }
      work.then((reply) => { done(); resolve(reply) }, (error: unknown) => { done(); reject(error) })
    })
  }

  stop (reason: Error): void {
    this.cancel?.(reason)
  }
}
