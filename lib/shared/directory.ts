import { randomBytes } from 'node:crypto'
import * as nodeFs from 'node:fs'
import { join } from 'node:path'
import { FST_SERVER_WATCH_SHARED_DIR } from '../errors.js'
import { tempPrefix } from './names.js'

/**
 * The shared directory's file operations, the only ones lib/shared performs. The directory may be writable by others
 * (a co-tenant in /dev/shm, another user's processes of the same app): docs/several-processes.md, "Threat model".
 *
 * - Nothing is written through an existing name: a file is created exclusively (`O_CREAT | O_EXCL | O_NOFOLLOW`,
 *   mode 0600) under an unpredictable name, written through its descriptor, then renamed into place. A symbolic
 *   link or a FIFO planted at any name is never followed nor opened for writing; the rename replaces a link at the
 *   final name, never its target.
 * - Nothing is opened that could block or follow a link: reads are `O_NONBLOCK | O_NOFOLLOW`, and only a regular
 *   file of at most MAX_SHARED_FILE_BYTES is read.
 */
export type FileSystem = Pick<typeof nodeFs,
'openSync' | 'fstatSync' | 'lstatSync' | 'statSync' | 'readSync' | 'writeSync' | 'closeSync' | 'renameSync' | 'unlinkSync' | 'readdirSync'>

/** No file of the directory is read past this: a state file at 100,000 routes is a few tens of MB. */
export const MAX_SHARED_FILE_BYTES = 64 * 1024 * 1024

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_NONBLOCK } = nodeFs.constants
// Windows has no O_NOFOLLOW (nor FIFOs or symbolic links a user can plant without privilege).
const O_NOFOLLOW = nodeFs.constants.O_NOFOLLOW ?? 0
const READ_FLAGS = O_RDONLY | O_NONBLOCK | O_NOFOLLOW
const CREATE_FLAGS = O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_NONBLOCK
/** Attempts at a fresh temporary name: a clash of 96 random bits means someone guessed, not bad luck. */
const CREATE_ATTEMPTS = 3

/** Why a file of the directory was not read; its message is the reason given in the warning. */
export class RefusedFile extends Error {}

/** What tells a file from its next version: every write renames a new file into place, so the inode changes. */
export interface FileStamp { readonly ino: number, readonly size: number, readonly mtimeMs: number }

export const sameStamp = (a: FileStamp, b: FileStamp): boolean => a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs

export const errorCode = (error: unknown): string => (error as NodeJS.ErrnoException | null)?.code ?? 'error'
export const isMissing = (error: unknown): boolean => errorCode(error) === 'ENOENT'
/** A file system error for a log line: Node's message starts with the code (`EPERM: operation not permitted, ...`). */
export function describeError (error: unknown): string {
  const code = errorCode(error)
  const message = String((error as Error | null)?.message ?? '')
  return message.startsWith(code) ? message : `${code}: ${message}`
}

/** One app's view of the shared directory. `fs` is a seam for tests (an injected failure, a count of reads). */
export class Directory {
  constructor (readonly path: string, readonly app: string, private readonly fs: FileSystem = nodeFs) {}

  /** The names in the directory, sorted. */
  list (): string[] {
    return this.fs.readdirSync(this.path).sort()
  }

  /** The file's stamp, read without opening it nor following a link; null when it is gone. */
  stamp (name: string): FileStamp | null {
    try {
      const { ino, size, mtimeMs } = this.fs.lstatSync(join(this.path, name))
      return { ino, size, mtimeMs }
    } catch (error) {
      if (isMissing(error)) return null
      throw error
    }
  }

  /**
   * A file, read whole, never blocking: opened non-blocking and without following a link (a FIFO would block the
   * open, then the read, forever), and read only when it is a regular file of at most `maxBytes`. Throws
   * RefusedFile, or the file system's error (ENOENT when it is gone).
   */
  read (name: string, maxBytes = MAX_SHARED_FILE_BYTES): Buffer {
    let fd: number
    try {
      fd = this.fs.openSync(join(this.path, name), READ_FLAGS)
    } catch (error) {
      const code = errorCode(error)
      if (code === 'ELOOP') throw new RefusedFile('a symbolic link')
      if (code === 'ENXIO') throw new RefusedFile('not a regular file')
      throw error
    }
    try {
      const stat = this.fs.fstatSync(fd)
      if (!stat.isFile()) throw new RefusedFile('not a regular file')
      if (stat.size > maxBytes) throw new RefusedFile(`larger than ${maxBytes} bytes`)
      const buffer = Buffer.allocUnsafe(stat.size)
      let length = 0
      while (length < buffer.length) {
        const n = this.fs.readSync(fd, buffer, length, buffer.length - length, length)
        if (n === 0) break
        length += n
      }
      return buffer.subarray(0, length)
    } finally {
      this.fs.closeSync(fd)
    }
  }

  /** Write then rename: a reader sees the old file or the new one, never half of one. */
  write (name: string, text: string): void {
    const data = Buffer.from(text)
    const [temp, fd] = this.createTemporary()
    try {
      try {
        let written = 0
        while (written < data.length) written += this.fs.writeSync(fd, data, written, data.length - written)
      } finally {
        this.fs.closeSync(fd)
      }
      this.fs.renameSync(temp, join(this.path, name))
    } catch (error) {
      try { this.fs.unlinkSync(temp) } catch {}
      throw error
    }
  }

  /** A new file of this process alone: its path and its descriptor. Never an existing name. */
  private createTemporary (): [string, number] {
    for (let attempt = 1; ; attempt++) {
      const temp = join(this.path, `${tempPrefix(this.app)}${randomBytes(12).toString('hex')}`)
      try {
        return [temp, this.fs.openSync(temp, CREATE_FLAGS, 0o600)]
      } catch (error) {
        if (errorCode(error) !== 'EEXIST' || attempt === CREATE_ATTEMPTS) throw error
      }
    }
  }

  /** True when the rename happened; false when the file was gone (another process claimed it first). */
  rename (from: string, to: string): boolean {
    try {
      this.fs.renameSync(join(this.path, from), join(this.path, to))
      return true
    } catch (error) {
      if (isMissing(error)) return false
      throw error
    }
  }

  remove (name: string): void {
    try {
      this.fs.unlinkSync(join(this.path, name))
    } catch (error) {
      if (!isMissing(error)) throw error
    }
  }

  exists (name: string): boolean {
    return this.stamp(name) !== null
  }

  /** Milliseconds since the file was last written, or null when it is gone. */
  age (name: string, now: number): number | null {
    const stamp = this.stamp(name)
    return stamp === null ? null : now - stamp.mtimeMs
  }
}

/**
 * Who else may write the directory, from its mode and owner. Refused: writable by every user without the sticky bit
 * (any local user could rename or delete this app's files). Warned about: owned by another user than this process's
 * (or root), who may then replace or delete anything in it.
 */
export function checkDirectorySafety (stat: Pick<nodeFs.Stats, 'mode' | 'uid'>, uid = process.getuid?.(), platform = process.platform): { refuse: string | null, warn: string | null } {
  // Windows has no such mode bits (a directory reads 0666) and no uid: its ACLs are the administrator's to set.
  if (platform === 'win32') return { refuse: null, warn: null }
  const mode = stat.mode & 0o7777
  const octal = mode.toString(8).padStart(4, '0')
  if ((mode & 0o002) !== 0 && (mode & 0o1000) === 0) {
    return {
      refuse: `is writable by every user without the sticky bit (mode ${octal}): any local user could replace or delete this app's state files; chmod +t it (mode 1777) or use a directory only the app's user can write`,
      warn: null
    }
  }
  if (uid !== undefined && stat.uid !== uid && stat.uid !== 0) {
    return { refuse: null, warn: `is owned by another user (uid ${stat.uid}, this process runs as ${uid}), who can replace or delete this app's state files and so change its fleet figures` }
  }
  return { refuse: null, warn: null }
}

/**
 * At register: refuses a directory open to every user (checkDirectorySafety) with FST_SERVER_WATCH_SHARED_DIR naming
 * `source` (the option or the variable) and the directory. A directory that cannot be read is left to the caller's
 * own checks (it exists, it is one, it takes a file).
 */
export function assertSafeDirectory (dir: string, source: string, fs: FileSystem = nodeFs): void {
  let stat: nodeFs.Stats
  try {
    stat = fs.statSync(dir)
  } catch {
    return
  }
  const { refuse } = checkDirectorySafety(stat)
  if (refuse !== null) throw new FST_SERVER_WATCH_SHARED_DIR(source, dir, refuse)
}

/** The warning for a directory another user owns (checkDirectorySafety), or null: logged once at start. */
export function directoryWarning (dir: string, fs: FileSystem = nodeFs): string | null {
  try {
    const { warn } = checkDirectorySafety(fs.statSync(dir))
    return warn === null ? null : `server-watch: the shared directory ${dir} ${warn}; give the app a directory of its own user`
  } catch {
    return null
  }
}
