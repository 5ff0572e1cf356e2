import { FST_SERVER_WATCH_PROFILE_ABORTED, FST_SERVER_WATCH_PROFILE_BUSY, FST_SERVER_WATCH_PROFILE_COOLDOWN } from '../errors.js'
import type { AllocationSummary, CpuSummary } from './summary.js'

export type CaptureKind = 'cpu' | 'heap' | 'allocations'

export const PROFILE_COOLDOWN_MS = 10_000
/** The largest capture sent. A heap snapshot is about twice the heap used; 2 GiB covers a 1 GiB heap. */
export const PROFILE_MAX_BYTES = 2 * 1024 * 1024 * 1024

/** What `GET {dashboardPath}/api/profile/last` answers: the page's summary of the capture it just downloaded. */
export interface LastCapture {
  kind: CaptureKind
  file: string
  bytes: number
  capturedAt: string
  durationMs: number
  /** Null for a heap snapshot: summarising one would take as long, and as much memory, as taking it. */
  summary: CpuSummary | AllocationSummary | null
}

// The inspector's profilers are per thread and a snapshot pauses the whole process: one capture at a time, whatever
// the number of plugin instances.
let running: CaptureKind | null = null

export interface Capture {
  /** Aborted when the server closes or the client leaves: the capture stops and releases its session. */
  readonly signal: AbortSignal
  abort (reason: string): void
  /** Releases the process-wide slot and, unless told otherwise, starts the cool-down. */
  end (cooldown?: boolean): void
}

/**
 * The captures of one plugin instance: one at a time per process, at least `cooldownMs` apart, ended on close.
 */
export class Profiler {
  last: LastCapture | null = null
  private endedAt = -Infinity
  private readonly active = new Set<Capture>()
  private closed = false

  constructor (
    readonly cooldownMs = PROFILE_COOLDOWN_MS,
    readonly maxBytes = PROFILE_MAX_BYTES,
    private readonly now: () => number = Date.now
  ) {}

  /** Seconds until a capture may start, 0 when it may now. */
  retryAfterSeconds (): number {
    return Math.max(0, Math.ceil((this.endedAt + this.cooldownMs - this.now()) / 1000))
  }

  /** Takes the process-wide slot, or throws why not (busy, cooling down, closing). */
  begin (kind: CaptureKind): Capture {
    if (this.closed) throw new FST_SERVER_WATCH_PROFILE_ABORTED('the server is closing')
    if (running !== null) throw new FST_SERVER_WATCH_PROFILE_BUSY(running)
    const wait = this.retryAfterSeconds()
    if (wait > 0) throw new FST_SERVER_WATCH_PROFILE_COOLDOWN(Math.ceil(this.cooldownMs / 1000), wait)
    running = kind
    const controller = new AbortController()
    let ended = false
    const capture: Capture = {
      signal: controller.signal,
      abort: (reason) => controller.abort(new FST_SERVER_WATCH_PROFILE_ABORTED(reason)),
      end: (cooldown = true) => {
        if (ended) return
        ended = true
        running = null
        if (cooldown) this.endedAt = this.now()
        this.active.delete(capture)
      }
    }
    this.active.add(capture)
    return capture
  }

  /** Ends every capture still running; later ones are refused. */
  close (): void {
    this.closed = true
    for (const capture of this.active) capture.abort('the server is closing')
  }
}

/** The capture that holds the process-wide slot, if any. */
export function runningCapture (): CaptureKind | null {
  return running
}
