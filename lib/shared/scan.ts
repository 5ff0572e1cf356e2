import { errorCode, isMissing, MAX_SHARED_FILE_BYTES, RefusedFile, sameStamp, type Directory, type FileStamp } from './directory.js'
import { parseName, tempPrefix, type FileName } from './names.js'
import { decodeState, type ProcessState } from './state.js'
import type { Tally } from './tally.js'

/**
 * What one sample may read from the directory in all, across its scans and claims: two files at the per-file cap.
 * A fleet of 16 processes at 200 busy routes reads about 5 MB a sample; the budget only bites on files that are not
 * the fleet's (a co-tenant's, a runaway's), and those are read once, then remembered as refused.
 */
export const SAMPLE_READ_BUDGET_BYTES = 2 * MAX_SHARED_FILE_BYTES

export interface Entry {
  name: string
  file: FileName
  stamp: FileStamp
  state: ProcessState
  /** The totals, without the routes. */
  counts: Tally
  /** The routes line, decoded only when read (then parsed by lib/shared/state.ts addEndpoints). */
  endpoints: () => string
}

export interface Scan {
  entries: Entry[]
  /** Files of this app that could not be read as a state: name and why. */
  refused: Array<[string, string]>
  /** Temporary files of this app (left by a process that died mid-write). */
  temps: string[]
}

/** What is left of the sample's read budget: taken from by every read of the sample. */
export interface ReadBudget { bytes: number }

/**
 * Reads the app's state files. A file refused once (too big, not a regular file, not a state of this app) is
 * remembered with its stamp and not read again while the stamp is unchanged: a co-tenant's five 63 MB files cost one
 * read each, not one every sample.
 */
export class Scanner {
  private readonly refusedFiles = new Map<string, { stamp: FileStamp, reason: string }>()
  private budgetWarned = false

  constructor (private readonly directory: Directory, private readonly log: { warn: (msg: string) => void }) {}

  /**
   * Every state file of the app, read. Renames by other processes (a claim) can move a file between the listing and
   * the read, so the listing is taken again after the reads; if it changed, the scan is repeated (a few times at
   * most), so that a sum over the files counts each process's figures once.
   */
  scan (budget: ReadBudget, attempts = 4): Scan {
    let scan: Scan | null = null
    for (let attempt = 0; attempt < attempts; attempt++) {
      const before = this.listFiles()
      let vanished = false
      scan = { entries: [], refused: [], temps: before.temps }
      for (const [name, file] of before.files) {
        const read = this.readEntry(name, file, budget, scan)
        if (read === 'vanished') vanished = true
      }
      if (!vanished && sameNames(before.files, this.listFiles().files)) break
    }
    const refused = new Set(scan!.refused.map(([name]) => name))
    for (const name of this.refusedFiles.keys()) if (!refused.has(name)) this.refusedFiles.delete(name)
    return scan!
  }

  private readEntry (name: string, file: FileName, budget: ReadBudget, scan: Scan): 'vanished' | 'read' | 'skipped' {
    const stamp = this.directory.stamp(name)
    if (stamp === null) return 'vanished'
    const known = this.refusedFiles.get(name)
    if (known !== undefined && sameStamp(known.stamp, stamp)) {
      scan.refused.push([name, known.reason])
      return 'skipped'
    }
    let text: Buffer
    try {
      text = readWithin(this.directory, name, stamp, budget)
    } catch (error) {
      if (isMissing(error)) return 'vanished'
      if (error instanceof OverBudget) {
        this.warnBudget()
        return 'skipped'
      }
      this.refuse(name, stamp, error instanceof RefusedFile ? error.message : `unreadable: ${errorCode(error)}`, scan)
      return 'skipped'
    }
    // A Buffer: only the first line is decoded on every sample.
    const decoded = decodeState(text, this.directory.app)
    if (decoded.ok) scan.entries.push({ name, file, stamp, state: decoded.state, counts: decoded.counts, endpoints: decoded.endpoints })
    else this.refuse(name, stamp, decoded.reason, scan)
    return 'read'
  }

  private refuse (name: string, stamp: FileStamp, reason: string, scan: Scan): void {
    this.refusedFiles.set(name, { stamp, reason })
    scan.refused.push([name, reason])
  }

  private warnBudget (): void {
    if (this.budgetWarned) return
    this.budgetWarned = true
    this.log.warn(`server-watch: the shared directory ${this.directory.path} holds more than a sample may read (${SAMPLE_READ_BUDGET_BYTES} bytes); some files are left out of this sample`)
  }

  private listFiles (): { files: Array<[string, FileName]>, temps: string[] } {
    const files: Array<[string, FileName]> = []
    const temps: string[] = []
    const { app } = this.directory
    const temp = tempPrefix(app)
    for (const name of this.directory.list()) {
      if (name.startsWith(temp)) {
        temps.push(name)
        continue
      }
      const file = parseName(name, app)
      if (file !== null) files.push([name, file])
    }
    return { files, temps }
  }
}

/** A file of this sample's read budget has no room for: left out of this sample, read at a later one. */
class OverBudget extends Error {}

/** Reads `name` if the budget has room for it (by its stamp's size, and by what was read), and takes it from the budget. */
function readWithin (directory: Directory, name: string, stamp: FileStamp, budget: ReadBudget): Buffer {
  if (stamp.size > budget.bytes && stamp.size <= MAX_SHARED_FILE_BYTES) throw new OverBudget()
  const text = directory.read(name)
  budget.bytes -= text.length
  return text
}

const sameNames = (a: Array<[string, FileName]>, b: Array<[string, FileName]>) =>
  a.length === b.length && a.every(([name], i) => name === b[i]![0])
