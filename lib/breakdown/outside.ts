/** Calls made outside any request (a job, a timer, work left running after a response): never a route's. */
export const OUTSIDE_REQUESTS = '(outside requests)'

export class OutsideCalls {
  calls = 0
  timeMs = 0

  record (durationMs: number): void {
    this.calls++
    this.timeMs += durationMs
  }
}
