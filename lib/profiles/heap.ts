import { randomBytes } from 'node:crypto'
import { closeSync, createReadStream, fstatSync, openSync, statfsSync, unlinkSync, writeSync, type ReadStream } from 'node:fs'
import { freemem, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { FST_SERVER_WATCH_HEAP_TOO_LARGE, FST_SERVER_WATCH_PROFILE_TOO_LARGE } from '../errors.js'
import { connectSession } from './session.js'

const MB = 1024 * 1024

export interface HeapRoom {
  heapUsed: () => number
  freeMemory: () => number
  /** Bytes free for the temporary file, or null when the platform cannot say. */
  freeDisk: () => number | null
}

export const HEAP_ROOM: HeapRoom = {
  heapUsed: () => process.memoryUsage().heapUsed,
  // In a container, the cgroup's limit less what the process uses, when that is less than the host's free memory.
  freeMemory () {
    const free = freemem()
    const limit = process.constrainedMemory?.() ?? 0
    if (!(limit > 0) || limit >= totalmem()) return free
    return Math.max(0, Math.min(free, limit - process.memoryUsage.rss()))
  },
  freeDisk () {
    try {
      const stats = statfsSync(tmpdir())
      return stats.bavail * stats.bsize
    } catch {
      return null
    }
  }
}

/**
 * V8 builds a snapshot as a second graph of the whole heap, then serialises it: it can take as much memory again
 * as the heap uses, and as much disk for the file. Refused when either is not free, rather than risk the process.
 */
export function checkHeapRoom (room: HeapRoom): void {
  const heapUsed = room.heapUsed()
  const free = room.freeMemory()
  const mb = (bytes: number) => `${Math.round(bytes / MB)} MB`
  if (heapUsed > free) {
    throw new FST_SERVER_WATCH_HEAP_TOO_LARGE(`the heap uses ${mb(heapUsed)} and only ${mb(free)} of memory is free; ` +
      'a snapshot can need as much memory again as the heap')
  }
  const disk = room.freeDisk()
  if (disk !== null && heapUsed > disk) {
    throw new FST_SERVER_WATCH_HEAP_TOO_LARGE(`the heap uses ${mb(heapUsed)} and only ${mb(disk)} of disk is free in ` +
      `${tmpdir()} for the snapshot file`)
  }
}

export interface HeapSnapshotFile {
  /** Reads the file from its start; closing or destroying it frees the file (nothing is left on disk). */
  stream: ReadStream
  bytes: number
}

/**
 * Takes a heap snapshot into a temporary file and returns a stream of it. V8 serialises a snapshot in one
 * synchronous pass that cannot wait for a slow client, so its chunks go to disk, not to memory; the client then
 * reads the file at its own pace (the stream applies back-pressure). The file is unlinked as soon as it is open:
 * whatever happens next (a client that leaves, a crash), nothing stays on disk once its descriptor is closed.
 */
export function takeHeapSnapshot (maxBytes: number): HeapSnapshotFile {
  const path = join(tmpdir(), `server-watch-${process.pid}-${randomBytes(6).toString('hex')}.heapsnapshot`)
  const fd = openSync(path, 'w+', 0o600)
  let unlinked = false
  try {
    unlinkSync(path)
    unlinked = true
  } catch {
    // Windows cannot unlink an open file: removed when the stream closes instead.
  }
  let bytes = 0
  let failure: unknown = null
  let answered = false
  const inspector = connectSession()
  try {
    inspector.session.on('HeapProfiler.addHeapSnapshotChunk', (message) => {
      if (failure !== null) return
      const chunk = message.params.chunk
      bytes += Buffer.byteLength(chunk)
      if (bytes > maxBytes) failure = new FST_SERVER_WATCH_PROFILE_TOO_LARGE('heap snapshot', maxBytes)
      else {
        try {
          writeSync(fd, chunk)
        } catch (error) {
          failure = error
        }
      }
    })
    // In-process, the inspector answers synchronously: every chunk has been written when post() returns.
    inspector.session.post('HeapProfiler.takeHeapSnapshot', { reportProgress: false }, (error) => {
      answered = true
      if (error !== null && failure === null) failure = error
    })
    if (!answered) failure = new Error('the inspector did not take the heap snapshot synchronously')
  } finally {
    inspector.disconnect()
  }
  const removeFile = () => {
    if (unlinked) return
    unlinked = true
    try { unlinkSync(path) } catch {}
  }
  if (failure !== null) {
    closeSync(fd)
    removeFile()
    throw failure
  }
  const stream = createReadStream(path, { fd, start: 0, autoClose: true })
  stream.once('close', removeFile)
  return { stream, bytes: fstatSync(fd).size }
}
