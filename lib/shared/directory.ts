import { closeSync, constants, fstatSync, openSync, readdirSync, readSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { decodeState, type ProcessState } from './state.js'
import type { Tally } from './tally.js'

/**
 * The files of one app in the shared directory. Every name starts with the app's name, so two apps sharing a
 * directory by mistake never read each other's files:
 *
 * - `<app>~p~<id>.json`: a process's state, rewritten on every sample (write a temporary file, then rename).
 * - `<app>~c~<id>~<claimer id>.json`: a dead process's state, claimed by the live process that folds it.
 * - `<app>~history.json`: the fleet's history (lib/shared/history-file.ts).
 * - `.<app>~t~...`: a temporary file being written.
 *
 * An id is `<host>_<pid>_<start, base 36>_<generation>`; host names are reduced to letters, digits, "." and "-".
 */
/** No file of the directory is read past this: a state file at 100,000 routes is a few tens of MB. */
export const MAX_SHARED_FILE_BYTES = 64 * 1024 * 1024

export const sanitize = (value: string): string => value.replace(/[^A-Za-z0-9.-]/g, '-')

export interface ParsedId { host: string, pid: number, startedAt: number, generation: number }

export function formatId ({ host, pid, startedAt, generation }: ParsedId): string {
  return `${sanitize(host)}_${pid}_${startedAt.toString(36)}_${generation}`
}

export function parseId (id: string): ParsedId | null {
  const match = /^([A-Za-z0-9.-]+)_(\d+)_([0-9a-z]+)_(\d+)$/.exec(id)
  if (match === null) return null
  return { host: match[1]!, pid: Number(match[2]), startedAt: parseInt(match[3]!, 36), generation: Number(match[4]) }
}

export const processFile = (app: string, id: string) => `${app}~p~${id}.json`
export const claimFile = (app: string, id: string, claimer: string) => `${app}~c~${id}~${claimer}.json`
export const historyFile = (app: string) => `${app}~history.json`
export const tempPrefix = (app: string) => `.${app}~t~`

export type FileName =
  | { kind: 'process', id: string }
  | { kind: 'claim', id: string, claimer: string }

/** What a name is to app `app`; null for any other file (another app's, another program's). */
export function parseName (name: string, app: string): FileName | null {
  if (!name.startsWith(`${app}~`) || !name.endsWith('.json')) return null
  const parts = name.slice(app.length + 1, -5).split('~')
  if (parts[0] === 'p' && parts.length === 2 && parseId(parts[1]!) !== null) return { kind: 'process', id: parts[1]! }
  if (parts[0] === 'c' && parts.length === 3 && parseId(parts[1]!) !== null && parseId(parts[2]!) !== null) {
    return { kind: 'claim', id: parts[1]!, claimer: parts[2]! }
  }
  return null
}

/** Why a file of the directory was not read; its message is the reason given in the warning. */
export class RefusedFile extends Error {}

/**
 * A file of the directory, read whole, never blocking: opened non-blocking (a FIFO would block the open, then the
 * read, forever) and read only when it is a regular file of at most MAX_SHARED_FILE_BYTES (not /dev/zero, not 2 GB
 * read into memory on every sample). Throws RefusedFile, or the file system's error (ENOENT when it is gone).
 */
export function readSharedFile (path: string): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  try {
    const stat = fstatSync(fd)
    if (!stat.isFile()) throw new RefusedFile('not a regular file')
    if (stat.size > MAX_SHARED_FILE_BYTES) throw new RefusedFile(`larger than ${MAX_SHARED_FILE_BYTES} bytes`)
    const buffer = Buffer.allocUnsafe(stat.size)
    let length = 0
    while (length < buffer.length) {
      const n = readSync(fd, buffer, length, buffer.length - length, length)
      if (n === 0) break
      length += n
    }
    return buffer.subarray(0, length)
  } finally {
    closeSync(fd)
  }
}

let tempCounter = 0
/** Write then rename: a reader sees the old file or the new one, never half of one. */
export function writeAtomic (dir: string, app: string, name: string, text: string): void {
  const temp = join(dir, `${tempPrefix(app)}${process.pid}~${tempCounter++}`)
  try {
    writeFileSync(temp, text)
    renameSync(temp, join(dir, name))
  } catch (error) {
    try { unlinkSync(temp) } catch {}
    throw error
  }
}

export interface Entry {
  name: string
  file: FileName
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

const isMissing = (error: unknown) => (error as NodeJS.ErrnoException).code === 'ENOENT'

/**
 * Every state file of `app`, read. Renames by other processes (a claim) can move a file between the listing and the
 * read, so the listing is taken again after the reads; if it changed, the scan is repeated (a few times at most), so
 * that a sum over the files counts each process's figures once.
 */
export function scanDirectory (dir: string, app: string, attempts = 4): Scan {
  let scan: Scan | null = null
  for (let attempt = 0; attempt < attempts; attempt++) {
    const before = listFiles(dir, app)
    let vanished = false
    scan = { entries: [], refused: [], temps: before.temps }
    for (const [name, file] of before.files) {
      let text: Buffer
      try {
        // A Buffer: only the first line is decoded on every sample.
        text = readSharedFile(join(dir, name))
      } catch (error) {
        if (isMissing(error)) {
          vanished = true
          continue
        }
        if (error instanceof RefusedFile) {
          scan.refused.push([name, error.message])
          continue
        }
        scan.refused.push([name, `unreadable: ${(error as NodeJS.ErrnoException).code ?? 'error'}`])
        continue
      }
      const decoded = decodeState(text, app)
      if (decoded.ok) scan.entries.push({ name, file, state: decoded.state, counts: decoded.counts, endpoints: decoded.endpoints })
      else scan.refused.push([name, decoded.reason])
    }
    if (!vanished && sameNames(before.files, listFiles(dir, app).files)) return scan
  }
  return scan!
}

function listFiles (dir: string, app: string): { files: Array<[string, FileName]>, temps: string[] } {
  const files: Array<[string, FileName]> = []
  const temps: string[] = []
  const temp = tempPrefix(app)
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith(temp)) {
      temps.push(name)
      continue
    }
    const file = parseName(name, app)
    if (file !== null) files.push([name, file])
  }
  return { files, temps }
}

const sameNames = (a: Array<[string, FileName]>, b: Array<[string, FileName]>) =>
  a.length === b.length && a.every(([name], i) => name === b[i]![0])

/** True when the rename happened; false when the file was gone (another process claimed it first). */
export function renameIfPresent (dir: string, from: string, to: string): boolean {
  try {
    renameSync(join(dir, from), join(dir, to))
    return true
  } catch (error) {
    if (isMissing(error)) return false
    throw error
  }
}

export function removeIfPresent (dir: string, name: string): void {
  try {
    unlinkSync(join(dir, name))
  } catch (error) {
    if (!isMissing(error)) throw error
  }
}

export function exists (dir: string, name: string): boolean {
  try {
    statSync(join(dir, name))
    return true
  } catch {
    return false
  }
}

/** Milliseconds since the file was last written, or null when it is gone. */
export function fileAge (dir: string, name: string, now: number): number | null {
  try {
    return now - statSync(join(dir, name)).mtimeMs
  } catch {
    return null
  }
}
