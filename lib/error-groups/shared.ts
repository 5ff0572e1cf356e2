import { hostname } from 'node:os'
import { join } from 'node:path'
import { Directory, isMissing } from '../shared/directory.js'
import { pidAlive } from '../shared/liveness.js'
import { parseId, sanitize } from '../shared/names.js'
import { ErrorGroupStore } from './store.js'
import { parseStoredGroups, type StoredErrorGroups } from './stored.js'

/**
 * The error groups of every process of an app, in its shared directory (`shared: { dir }`):
 *
 * - `<app>~e~<id>.json`: one process's own groups (what it recorded since it started), rewritten when they changed,
 *   at most every WRITE_EVERY_MS, touched at least every TOUCH_EVERY_MS, and on close.
 * - `<app>~errors.json`: the groups of processes gone, folded by the history's writer (the longest-running process)
 *   from the files of processes gone (a pid of this host that no longer runs, as lib/shared/liveness.ts tells), or
 *   not written for RETIRE_AFTER_MS (another host's, or a stalled one), which it then deletes.
 *
 * The fleet's groups are those files absorbed into one store (lib/error-groups/store.ts: an exact merge), so they
 * survive a restart of every process with their ids and counts. A process finds its own file gone after a stall
 * longer than RETIRE_AFTER_MS: its groups were folded, so it starts its own count again (what it recorded between
 * the fold and that write is lost, never counted twice).
 */
export const WRITE_EVERY_MS = 5000
export const TOUCH_EVERY_MS = 60_000
export const RETIRE_AFTER_MS = 10 * 60_000
/** A groups file is a few hundred kB at most (maxErrorGroups of bounded groups): a larger one is not read. */
const MAX_GROUPS_FILE_BYTES = 8 * 1024 * 1024

export const processErrorsFile = (app: string, id: string) => `${app}~e~${id}.json`
export const retiredErrorsFile = (app: string) => `${app}~errors.json`

export interface SharedErrorGroupsOptions {
  dir: string
  app: string
  /** This process's id in the directory (lib/shared/directory.ts formatId). */
  id: string
  own: ErrorGroupStore
  log: { warn: (msg: string) => void }
  /** Whether a pid of this host runs (lib/shared/liveness.ts's `pidAlive`; a test gives its own). */
  pidAlive?: (pid: number) => boolean
}

interface Cached { ino: number, size: number, mtimeMs: number, groups: StoredErrorGroups }

export class SharedErrorGroups {
  private readonly ownFile: string
  /** The shared directory's one reader and writer (lib/shared/directory.ts): exclusive creates, no blocking reads. */
  private readonly directory: Directory
  private writtenVersion = -1
  private writtenAt = -Infinity
  private readonly cache = new Map<string, Cached>()
  private readonly warned = new Set<string>()
  private fleet: ErrorGroupStore | null = null
  private fleetVersion = -1
  /** Fingerprints whose `error.new` another process raised in this release (as of the last read). */
  private readonly raised = new Set<string>()

  constructor (private readonly options: SharedErrorGroupsOptions) {
    this.ownFile = processErrorsFile(options.app, options.id)
    this.directory = new Directory(options.dir, options.app)
  }

  /** Each sample: this process's groups into its file when they changed (or to show it lives). */
  write (now: number, force = false): void {
    const { own } = this.options
    const changed = own.version !== this.writtenVersion
    if (!force && !(changed && now - this.writtenAt >= WRITE_EVERY_MS) && now - this.writtenAt < TOUCH_EVERY_MS) return
    if (this.writtenVersion !== -1 && !this.directory.exists(this.ownFile)) {
      own.clear()
      this.options.log.warn(`server-watch: this process's error groups were folded by another process (stalled for over ${RETIRE_AFTER_MS} ms?); counting again`)
    }
    this.directory.write(this.ownFile, JSON.stringify(own.toJSON()))
    this.writtenVersion = own.version
    this.writtenAt = now
  }

  /**
   * The fleet's groups: the folded ones, every other process's file, and this process's live store. Merged again
   * only when a file or this process's groups changed since the last call.
   */
  read (maxGroups: number): ErrorGroupStore {
    const names = this.names()
    let changed = this.fleet === null || this.fleetVersion !== this.options.own.version
    for (const name of this.cache.keys()) {
      if (!names.includes(name)) {
        this.cache.delete(name)
        changed = true
      }
    }
    const files: StoredErrorGroups[] = []
    for (const name of names) {
      if (name === this.ownFile) continue
      const { groups, fresh } = this.load(name)
      if (fresh) changed = true
      if (groups !== null) files.push(groups)
    }
    if (!changed) return this.fleet!
    const release = this.options.own.release
    const fleet = new ErrorGroupStore({ maxGroups, release })
    this.raised.clear()
    for (const groups of files) {
      fleet.absorb(groups)
      for (const group of groups.groups) if (group.alertedRelease === release) this.raised.add(group.fingerprint)
    }
    this.fleet = fleet.absorb(this.options.own.toJSON())
    this.fleetVersion = this.options.own.version
    return this.fleet
  }

  /** Whether another process (or one gone) raised `error.new` for this group in this release already. */
  alertedElsewhere (fingerprint: string): boolean {
    return this.raised.has(fingerprint)
  }

  /** By the history's writer only: folds the files of processes gone into the retired file, then deletes them. */
  retire (now: number, maxGroups: number): void {
    const retiredName = retiredErrorsFile(this.options.app)
    const dead = this.names().filter((name) => name !== this.ownFile && name !== retiredName &&
      (this.processGone(name) || (this.directory.age(name, now) ?? 0) >= RETIRE_AFTER_MS))
    if (dead.length === 0) return
    const retired = new ErrorGroupStore({ maxGroups, release: this.options.own.release })
    const before = this.load(retiredName).groups
    if (before !== null) retired.absorb(before)
    const folded: string[] = []
    for (const name of dead) {
      const { groups } = this.load(name)
      if (groups === null) continue
      retired.absorb(groups)
      folded.push(name)
    }
    // Written before the deletes: a crash in between counts a file twice at worst until it is deleted, never loses it.
    this.directory.write(retiredName, JSON.stringify(retired.toJSON()))
    for (const name of folded) this.directory.remove(name)
  }

  /** A file of a process of this host whose pid no longer runs: folded at once, as the shared store folds its state. */
  private processGone (name: string): boolean {
    const prefix = `${this.options.app}~e~`
    if (!name.startsWith(prefix)) return false
    const parsed = parseId(name.slice(prefix.length, -'.json'.length))
    if (parsed === null || parsed.host !== sanitize(hostname())) return false
    return !(this.options.pidAlive ?? pidAlive)(parsed.pid)
  }

  private names (): string[] {
    const { app } = this.options
    const prefix = `${app}~e~`
    try {
      return this.directory.list().filter((name) => (name.startsWith(prefix) && name.endsWith('.json')) || name === retiredErrorsFile(app))
    } catch {
      return []
    }
  }

  /** A file's groups, parsed again only when its size or time changed (`fresh`); null (one warning) when unusable. */
  private load (name: string): { groups: StoredErrorGroups | null, fresh: boolean } {
    const path = join(this.options.dir, name)
    try {
      const stamp = this.directory.stamp(name)
      if (stamp === null) return { groups: null, fresh: false }
      const { ino, size, mtimeMs } = stamp
      const cached = this.cache.get(name)
      if (cached !== undefined && cached.ino === ino && cached.size === size && cached.mtimeMs === mtimeMs) return { groups: cached.groups, fresh: false }
      const parsed = parseStoredGroups(JSON.parse(this.directory.read(name, MAX_GROUPS_FILE_BYTES).toString('utf8')))
      if (typeof parsed === 'string') throw new Error(parsed)
      this.cache.set(name, { ino, size, mtimeMs, groups: parsed })
      return { groups: parsed, fresh: true }
    } catch (error) {
      if (!isMissing(error) && !this.warned.has(name)) {
        if (this.warned.size > 100) this.warned.clear()
        this.warned.add(name)
        this.options.log.warn(`server-watch: ignoring the error groups in ${path}: ${(error as Error).message}`)
      }
      return { groups: null, fresh: false }
    }
  }
}
