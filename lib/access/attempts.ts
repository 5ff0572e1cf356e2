export const FAILED_ATTEMPTS_LIMIT = 10
export const FAILED_ATTEMPTS_WINDOW_MS = 60_000
// Addresses tracked at once: a flood of addresses evicts the oldest instead of growing memory.
const MAX_TRACKED_ADDRESSES = 10_000

interface Window { start: number, failures: number }

/**
 * Failed credentials per client address in fixed windows: past the limit, the address is refused until its window
 * ends, whatever it presents, so a token cannot be guessed at the speed of the network.
 */
export class FailedAttempts {
  private readonly windows = new Map<string, Window>()

  constructor (
    private readonly now: () => number,
    private readonly limit = FAILED_ATTEMPTS_LIMIT,
    private readonly windowMs = FAILED_ATTEMPTS_WINDOW_MS
  ) {}

  /** Milliseconds until `address` may try again, or 0 when it may now. */
  retryAfterMs (address: string): number {
    const window = this.windows.get(address)
    if (window === undefined || window.failures < this.limit) return 0
    const left = window.start + this.windowMs - this.now()
    if (left > 0) return left
    this.windows.delete(address)
    return 0
  }

  /** Counts one failure; true when it is the one that reaches the limit. */
  fail (address: string): boolean {
    const now = this.now()
    let window = this.windows.get(address)
    if (window === undefined || now - window.start >= this.windowMs) {
      this.windows.delete(address)
      if (this.windows.size >= MAX_TRACKED_ADDRESSES) this.windows.delete(this.windows.keys().next().value!)
      window = { start: now, failures: 0 }
      this.windows.set(address, window)
    }
    window.failures++
    return window.failures === this.limit
  }
}
