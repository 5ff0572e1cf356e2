import { join } from 'node:path'
import { describeError, isMissing, sameStamp, type Directory, type FileStamp } from './directory.js'
import type { Liveness } from './liveness.js'
import type { LogOnce } from './log-once.js'
import { claimFile } from './names.js'
import type { Entry, Scan } from './scan.js'
import { addEndpoints, decodeState, StateError } from './state.js'
import { Tally } from './tally.js'

/**
 * The fold/claim protocol: each dead process's figures are added into exactly one live process's file, once.
 *
 * 1. A process file is dead when Liveness says so. The first live process to see it claims it with a rename to a
 *    claim file named for itself (of two processes that try, one rename succeeds, the other finds nothing), adds its
 *    counts to `retired`, and lists its id in `absorbed`. A claim whose claimer died before writing is claimed again
 *    the same way.
 * 2. The claimer's next file (lib/shared/writer.ts) holds its own counts plus `retired` and lists the absorbed ids;
 *    then the claim files are deleted (afterWrite). Readers skip a claim whose id an existing file lists as absorbed,
 *    so that between the write and the delete nothing is counted twice, and a claim never absorbed still counts.
 *
 * A file this process cannot claim (EPERM, EACCES: another user's file in a sticky directory) is skipped while its
 * stamp is unchanged and logged once with its name and the error; it goes on counting in the fleet's totals, as a
 * dead process not yet folded, and never stops the fleet view. A claim file that cannot be deleted is left in place
 * and logged once: this process's own stays listed as absorbed, so that it is never counted twice.
 */
export class Folder {
  /** Past maxRoutes, folded routes share the overflow route: a dead file with many routes must not grow every later file. */
  readonly retired: Tally
  /** Bumped whenever `retired` changes: cached route texts are then stale. */
  version = 0
  /** Whether a folded process counted timeouts. */
  countsTimeouts = false
  /**
   * The claim files folded into `retired` and not yet deleted, with the ids each holds: listed in the next file, then
   * deleted. One that cannot be deleted stays listed, so that it is never counted again.
   */
  private claims: Array<{ name: string, ids: string[] }> = []
  private readonly skipped = new Map<string, FileStamp>()

  constructor (
    private readonly directory: Directory,
    private readonly liveness: Liveness,
    maxRoutes: number,
    private readonly warnings: LogOnce
  ) {
    this.retired = new Tally(maxRoutes)
  }

  /** The ids to list in the next file. */
  pendingAbsorbed (): readonly string[] {
    return this.claims.flatMap((claim) => claim.ids)
  }

  /** After a write: the absorbed claims are deleted; returns the ids that write listed. */
  afterWrite (): readonly string[] {
    const written = this.pendingAbsorbed()
    this.claims = this.claims.filter((claim) => !this.remove(claim.name))
    return written
  }

  /** Claims and folds the dead; returns whether any file was claimed, lost to another claimer, or removed. */
  fold (scan: Scan, now: number): boolean {
    const present = new Set(scan.entries.map((entry) => entry.name))
    for (const name of this.skipped.keys()) if (!present.has(name)) this.skipped.delete(name)
    this.warnings.forgetAbsent('skip:', present)
    let changed = false
    const absorbed = new Set<string>()
    const live = new Set<string>([this.liveness.id])
    for (const entry of scan.entries) {
      if (entry.file.kind !== 'process') continue
      for (const id of entry.state.absorbed) absorbed.add(id)
      if (this.liveness.isLive(entry.file.id, entry.state.writtenAt, now)) live.add(entry.file.id)
    }
    for (const entry of scan.entries) {
      const { file } = entry
      const skipped = this.skipped.get(entry.name)
      if (skipped !== undefined && sameStamp(skipped, entry.stamp)) continue
      if (file.kind === 'process') {
        if (live.has(file.id)) continue
        changed = this.claim(entry, file.id) || changed
      } else if (absorbed.has(file.id)) {
        // Already in the file of the process that absorbed it: its claim file is litter.
        changed = this.remove(entry.name, entry) || changed
      } else if (!live.has(file.claimer)) {
        changed = this.claim(entry, file.id) || changed
      }
    }
    return changed
  }

  /** Returns whether the directory changed (claimed, or found gone). */
  private claim (entry: Entry, id: string): boolean {
    const claimed = claimFile(this.directory.app, id, this.liveness.id)
    try {
      if (!this.directory.rename(entry.name, claimed)) return true
    } catch (error) {
      this.skip(entry, error)
      return false
    }
    let decoded
    try {
      decoded = decodeState(this.directory.read(claimed), this.directory.app)
    } catch {
      return true
    }
    if (!decoded.ok) return true
    this.retired.addTotals(decoded.counts)
    try {
      addEndpoints(this.retired, decoded.endpoints())
    } catch (error) {
      if (!(error instanceof StateError)) throw error
      this.warnings.warn(`routes:${claimed}`, `server-watch: the routes of ${join(this.directory.path, claimed)} could not be folded (${error.message}); its totals were`)
    }
    if (decoded.state.countsTimeouts === true) this.countsTimeouts = true
    this.version++
    this.claims.push({ name: claimed, ids: [decoded.state.id, ...decoded.state.absorbed] })
    return true
  }

  /** Deletes a claim file; false (and skipped while unchanged) when it cannot be. */
  private remove (name: string, entry?: Entry): boolean {
    try {
      this.directory.remove(name)
      return true
    } catch (error) {
      if (isMissing(error)) return true
      if (entry !== undefined) this.skipped.set(entry.name, entry.stamp)
      this.warnings.warn(`skip:${name}`, `server-watch: cannot delete ${join(this.directory.path, name)} from the shared directory ` +
        `(${describeError(error)}); it is left in place, its figures counted once (in the file that lists it as absorbed)`)
      return false
    }
  }

  private skip (entry: Entry, error: unknown): void {
    this.skipped.set(entry.name, entry.stamp)
    this.warnings.warn(`skip:${entry.name}`, `server-watch: cannot claim ${join(this.directory.path, entry.name)} in the shared directory ` +
      `(${describeError(error)}); it is skipped while it is unchanged, and still counted in the fleet's totals ` +
      '(a file of another user? see docs/several-processes.md, "Threat model")')
  }
}
