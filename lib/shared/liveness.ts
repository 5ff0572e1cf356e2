import { formatId, parseId, sanitize } from './names.js'

/**
 * The ids of the stores running in this process. Process-wide on purpose, and the only such state of lib/shared: two
 * plugin instances of one process (two apps, or a test) may share a directory, and a file of this pid is a former
 * life of the process (a container restarted as pid 1) only when no store of this process has its id. A store takes
 * the set as an option (SharedStoreOptions.runningHere), so a test can give each of its "processes" their own.
 */
export const RUNNING_IN_THIS_PROCESS = new Set<string>()

/** Whether a pid of this host runs: `process.kill(pid, 0)`. */
export function pidAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    // EPERM: it runs, under another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A process of this host that has not written for this long is dead even if its pid runs (the pid was reused). */
const ABANDONED_AFTER_INTERVALS = 30
const MIN_ABANDONED_MS = 60_000

export interface LivenessOptions {
  hostname: string
  pid: number
  startedAt: number
  sampleIntervalMs: number
  /** A process on another host whose file is older than this is dead. Default: 5 intervals, at least 5 s. */
  staleAfterMs?: number
  pidAlive: (pid: number) => boolean
  runningHere: Set<string>
}

/**
 * This store's identity, and who else is alive. The id is `host_pid_start_generation`: a process found dead while it
 * was only stalled goes on under the next generation (lib/shared/writer.ts), so each incarnation's figures are
 * folded once.
 */
export class Liveness {
  readonly staleAfterMs: number
  /** A temporary or state file of this host untouched for this long belongs to no one. */
  readonly abandonedAfterMs: number
  private generation = 0
  id: string

  constructor (private readonly options: LivenessOptions) {
    this.staleAfterMs = options.staleAfterMs ?? Math.max(5 * options.sampleIntervalMs, 5000)
    this.abandonedAfterMs = Math.max(ABANDONED_AFTER_INTERVALS * options.sampleIntervalMs, MIN_ABANDONED_MS, this.staleAfterMs)
    this.id = this.makeId()
    options.runningHere.add(this.id)
  }

  /** Goes on under a new id: the old one's figures were folded by another process. */
  renew (): string {
    this.options.runningHere.delete(this.id)
    this.generation++
    this.id = this.makeId()
    this.options.runningHere.add(this.id)
    return this.id
  }

  /** This store stops (its app closes): from now on its file is a dead process's, to be folded. */
  release (): void {
    this.options.runningHere.delete(this.id)
  }

  /**
   * Whether the process of `id` is alive: by its pid on this host (a file of this pid is another store of this
   * process, or a former life), by the age of its file on another host.
   */
  isLive (id: string, writtenAt: number, now: number): boolean {
    if (id === this.id) return true
    const parsed = parseId(id)
    if (parsed === null) return false
    const age = now - writtenAt
    const { hostname, pid } = this.options
    if (parsed.host === sanitize(hostname)) {
      if (parsed.pid === pid) return this.options.runningHere.has(id)
      return age < this.abandonedAfterMs && this.options.pidAlive(parsed.pid)
    }
    return age <= this.staleAfterMs
  }

  private makeId (): string {
    const { hostname, pid, startedAt } = this.options
    return formatId({ host: hostname, pid, startedAt, generation: this.generation })
  }
}
