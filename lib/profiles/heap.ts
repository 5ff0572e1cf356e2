import { randomBytes } from 'node:crypto'
import { closeSync, createReadStream, fstatSync, openSync, statfsSync, unlinkSync, writeSync, type ReadStream } from 'node:fs'
import { freemem, tmpdir } from 'node:os'
import { join } from 'node:path'
import { readCgroupLimits } from '../collectors/cgroup.js'
import { FST_SERVER_WATCH_HEAP_TOO_LARGE, FST_SERVER_WATCH_PROFILE_TOO_LARGE } from '../errors.js'
import { connectSession } from './session.js'

const MB = 1024 * 1024

/**
 * Resident memory a snapshot adds, as a multiple of the heap used: measured 7.1 to 7.8 at 44 and 200 MB heaps
 * through this capture path (7.2 at 442 MB in issue 26), with about 15 % more for headroom. `node
 * benchmark/heap-snapshot.js`; the figures are in benchmark/README.md.
 */
export const HEAP_SNAPSHOT_MEMORY_FACTOR = 9
/** The file's size as a multiple of the heap used: measured 1.8 to 1.9, rounded up (same benchmark). */
export const HEAP_SNAPSHOT_FILE_FACTOR = 2

/** What the heap check reads; tests give their own figures. */
export interface HeapRoom {
  heapUsed: () => number
  /** The process's resident memory now. */
  rss: () => number
  /** The host's available memory. */
  freeMemory: () => number
  /** The cgroup's memory limit (a container's), or null when none applies. */
  memoryLimit: () => number | null
  /** Bytes free for the temporary file, or null when the platform cannot say. */
  freeDisk: () => number | null
}

let cgroupLimit: number | null | undefined

export const HEAP_ROOM: HeapRoom = {
  heapUsed: () => process.memoryUsage().heapUsed,
  rss: () => process.memoryUsage.rss(),
  freeMemory: () => freemem(),
  memoryLimit () {
    // Read once: a few small files, and a limit that does not change under a running process as a rule.
    if (cgroupLimit === undefined) cgroupLimit = readCgroupLimits().memory?.bytes ?? null
    return cgroupLimit
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

const mb = (bytes: number) => `${Math.round(bytes / MB)} MB`

/**
 * A snapshot is one synchronous pass that holds a second graph of the whole heap and its serialisation: about
 * `HEAP_SNAPSHOT_MEMORY_FACTOR` times the heap used on top of what the process holds, and twice the heap on disk.
 * Refused, with the figures, when the host's free memory or the room left under the cgroup limit (the limit less
 * this process's resident memory) is smaller: in a container near its limit, the capture would be an OOM kill.
 */
export function checkHeapRoom (room: HeapRoom): void {
  const heapUsed = room.heapUsed()
  const needed = heapUsed * HEAP_SNAPSHOT_MEMORY_FACTOR
  const free = room.freeMemory()
  const limit = room.memoryLimit()
  const underLimit = limit === null ? null : Math.max(0, limit - room.rss())
  const heap = `the heap uses ${mb(heapUsed)}, and a snapshot needs about ${mb(needed)} more memory ` +
    `(${HEAP_SNAPSHOT_MEMORY_FACTOR} times the heap)`
  if (underLimit !== null && underLimit < free && needed > underLimit) {
    throw new FST_SERVER_WATCH_HEAP_TOO_LARGE(`${heap}; the cgroup memory limit is ${mb(limit!)} and the process ` +
      `already holds ${mb(limit! - underLimit)}, which leaves ${mb(underLimit)}`)
  }
  if (needed > free) {
    throw new FST_SERVER_WATCH_HEAP_TOO_LARGE(`${heap}; only ${mb(free)} of memory is free on the host`)
  }
  const disk = room.freeDisk()
  const file = heapUsed * HEAP_SNAPSHOT_FILE_FACTOR
  if (disk !== null && file > disk) {
    throw new FST_SERVER_WATCH_HEAP_TOO_LARGE(`the heap uses ${mb(heapUsed)}, the snapshot file takes about ${mb(file)} ` +
      `and only ${mb(disk)} of disk is free in ${tmpdir()}`)
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
