import { isIPv4 } from 'node:net'

export const FAILED_ATTEMPTS_LIMIT = 10
export const FAILED_ATTEMPTS_WINDOW_MS = 60_000
/**
 * Wrong tokens from all addresses together in one window. Past it, every wrong token gets 429 until the window
 * ends: one host owns no more than 2^64 IPv6 addresses per /64, but an attacker may own many /64s or a botnet,
 * so the bound on the guessing rate is global. The right token still opens (it is matched before any count).
 */
export const GLOBAL_FAILED_ATTEMPTS_LIMIT = 100
// Addresses tracked at once: a flood of addresses evicts the oldest instead of growing memory. The global limit
// keeps a flood from creating more than GLOBAL_FAILED_ATTEMPTS_LIMIT entries a window anyway.
const MAX_TRACKED_ADDRESSES = 10_000

interface Window { start: number, failures: number }

/** Expands an IPv6 address to its eight 16-bit groups, or null when it is not one. */
function ipv6Groups (address: string): number[] | null {
  const zone = address.indexOf('%')
  const text = zone < 0 ? address : address.slice(0, zone)
  const halves = text.split('::')
  if (halves.length > 2) return null
  const parse = (part: string): number[] | null => {
    if (part === '') return []
    const groups: number[] = []
    const pieces = part.split(':')
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && isIPv4(piece)) {
        const [a, b, c, d] = piece.split('.').map(Number) as [number, number, number, number]
        groups.push((a << 8) | b, (c << 8) | d)
      } else if (/^[0-9a-f]{1,4}$/i.test(piece)) {
        groups.push(parseInt(piece, 16))
      } else {
        return null
      }
    }
    return groups
  }
  const head = parse(halves[0]!)
  const tail = halves.length === 2 ? parse(halves[1]!) : []
  if (head === null || tail === null) return null
  const missing = 8 - head.length - tail.length
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null
  return [...head, ...Array<number>(missing).fill(0), ...tail]
}

/**
 * What wrong tokens are counted against: an IPv4 address (an IPv4-mapped IPv6 one as its IPv4), or an IPv6 /64,
 * the block one subscriber or one host gets: counting single IPv6 addresses would give an attacker endless tries.
 */
export function attemptKey (address: string | undefined): string {
  if (address === undefined || address === '') return 'unknown'
  if (isIPv4(address)) return address
  const groups = ipv6Groups(address)
  if (groups === null) return address.slice(0, 64)
  if (groups.slice(0, 5).every((group) => group === 0) && groups[5] === 0xffff) {
    return `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`
  }
  return `${groups.slice(0, 4).map((group) => group.toString(16)).join(':')}::/64`
}

/**
 * Failed credentials in fixed windows, per client key (`attemptKey`) and for all of them together: past either
 * limit, wrong tokens are refused until the window ends, so a token cannot be guessed at the speed of the network,
 * nor by spreading the guesses over many addresses.
 */
export class FailedAttempts {
  private readonly windows = new Map<string, Window>()
  private readonly global: Window = { start: -Infinity, failures: 0 }

  constructor (
    private readonly now: () => number,
    private readonly limit = FAILED_ATTEMPTS_LIMIT,
    private readonly windowMs = FAILED_ATTEMPTS_WINDOW_MS,
    private readonly globalLimit = GLOBAL_FAILED_ATTEMPTS_LIMIT
  ) {}

  /** Milliseconds until wrong tokens from anywhere are counted again, or 0 when the global limit is not reached. */
  globalRetryAfterMs (): number {
    if (this.global.failures < this.globalLimit) return 0
    return Math.max(0, this.global.start + this.windowMs - this.now())
  }

  /** Milliseconds until `key` may try again (its own limit or the global one), or 0 when it may now. */
  retryAfterMs (key: string): number {
    const everyone = this.globalRetryAfterMs()
    const window = this.windows.get(key)
    if (window === undefined || window.failures < this.limit) return everyone
    const left = window.start + this.windowMs - this.now()
    if (left > 0) return Math.max(left, everyone)
    this.windows.delete(key)
    return everyone
  }

  /** Counts one failure; says whether it is the one that reaches the key's limit, or the global one. */
  fail (key: string): { lockedOut: boolean, globalLockout: boolean } {
    const now = this.now()
    if (now - this.global.start >= this.windowMs) {
      this.global.start = now
      this.global.failures = 0
    }
    this.global.failures++
    let window = this.windows.get(key)
    if (window === undefined || now - window.start >= this.windowMs) {
      this.windows.delete(key)
      if (this.windows.size >= MAX_TRACKED_ADDRESSES) this.windows.delete(this.windows.keys().next().value!)
      window = { start: now, failures: 0 }
      this.windows.set(key, window)
    }
    window.failures++
    return { lockedOut: window.failures === this.limit, globalLockout: this.global.failures === this.globalLimit }
  }

  /** Keys tracked now (for tests and the memory bound). */
  get size (): number {
    return this.windows.size
  }
}
