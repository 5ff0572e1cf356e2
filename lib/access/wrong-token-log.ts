import type { FastifyBaseLogger } from 'fastify'

export const WRONG_TOKEN_LOG_INTERVAL_MS = 60_000
/** Lines logged one by one in an interval; past them, the rest are counted into one summary line at its end. */
export const WRONG_TOKEN_LOG_LINES = 20
// Distinct keys counted for the summary: past it the summary says "at least", and memory stays bounded.
const MAX_COUNTED_KEYS = 10_000

export interface WrongTokenFields { client: string, peer: string, key: string, url: string }

/**
 * The warnings about wrong tokens, in a form a flood cannot turn into a flood of log lines: the first
 * `WRONG_TOKEN_LOG_LINES` of an interval one by one (the addresses and the URL, never the token), then one summary
 * per interval with how many more there were, from how many addresses, and how many were refused with 429.
 */
export class WrongTokenLog {
  private lines = 0
  private unlogged = 0
  private limited = 0
  private readonly keys = new Set<string>()
  private timer: NodeJS.Timeout | null = null

  constructor (
    private readonly log: FastifyBaseLogger,
    private readonly intervalMs = WRONG_TOKEN_LOG_INTERVAL_MS,
    private readonly maxLines = WRONG_TOKEN_LOG_LINES
  ) {}

  /** A wrong token answered 401; `log` is the request's, for its id. */
  wrong (log: FastifyBaseLogger, fields: WrongTokenFields, message: string): void {
    this.begin()
    if (this.lines < this.maxLines) {
      this.lines++
      log.warn(fields, message)
      return
    }
    this.unlogged++
    this.count(fields.key)
  }

  /**
   * The wrong token that reached a limit: always logged, as there are at most a few a minute (the global limit
   * over the per-address one, and the global one itself).
   */
  lockout (log: FastifyBaseLogger, fields: WrongTokenFields, message: string): void {
    this.begin()
    log.warn(fields, message)
  }

  /** A wrong token refused with 429 (a limit reached): never logged one by one. */
  refused (key: string): void {
    this.begin()
    this.limited++
    this.count(key)
  }

  /** Logs the summary of the interval so far, if there is one, and stops the timer. */
  close (): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.flush()
  }

  private count (key: string): void {
    if (this.keys.size < MAX_COUNTED_KEYS) this.keys.add(key)
  }

  private begin (): void {
    if (this.timer !== null) return
    this.timer = setTimeout(() => this.flush(), this.intervalMs)
    this.timer.unref()
  }

  private flush (): void {
    this.timer = null
    if (this.unlogged + this.limited > 0) {
      const addresses = `${this.keys.size >= MAX_COUNTED_KEYS ? 'at least ' : ''}${this.keys.size}`
      this.log.warn({ unlogged: this.unlogged, limited: this.limited, addresses: this.keys.size },
        `server-watch: ${this.unlogged + this.limited} more wrong tokens from ${addresses} addresses in the last ` +
        `${Math.round(this.intervalMs / 1000)} s (${this.limited} refused with 429); only the first ${this.maxLines} of an interval are logged one by one`)
    }
    this.lines = 0
    this.unlogged = 0
    this.limited = 0
    this.keys.clear()
  }
}
