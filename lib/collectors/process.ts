import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { totalmem } from 'node:os'
import { getHeapSpaceStatistics } from 'node:v8'
import type { ProcessMemory } from '../schemas/health.js'
import { round } from '../format.js'
import { NO_CGROUP_LIMITS, type CgroupLimits } from './cgroup.js'
import { failureLogger, type Collector } from './types.js'

const HAS_PROC = process.platform === 'linux'
/** Reading every fd's link costs about 2 µs; past this many descriptors the counts are left null. */
const MAX_FDS_INSPECTED = 20_000

interface ProcCounts { vms: number | null, numThreads: number | null, openFiles: number | null, connections: number | null }

const NO_PROC: ProcCounts = { vms: null, numThreads: null, openFiles: null, connections: null }

/** /proc/self/status and /proc/self/fd: what psutil reads, in microseconds, no subprocess. */
function readProc (): ProcCounts {
  const status = readFileSync('/proc/self/status', 'utf8')
  const vmSize = /^VmSize:\s+(\d+) kB/m.exec(status)
  const threads = /^Threads:\s+(\d+)/m.exec(status)
  let openFiles: number | null = 0
  let connections: number | null = 0
  const fds = readdirSync('/proc/self/fd')
  if (fds.length > MAX_FDS_INSPECTED) {
    openFiles = connections = null
  } else {
    for (const fd of fds) {
      let target: string
      try {
        target = readlinkSync(`/proc/self/fd/${fd}`)
      } catch {
        continue // closed between readdir and readlink
      }
      if (target.startsWith('socket:')) connections++
      else if (target.startsWith('/') && !target.startsWith('/dev/') && !target.startsWith('/proc/')) openFiles++
    }
  }
  return {
    vms: vmSize === null ? null : Number(vmSize[1]) * 1024,
    numThreads: threads === null ? null : Number(threads[1]),
    openFiles,
    connections
  }
}

function heapSpaces (): ProcessMemory['heapSpaces'] {
  return getHeapSpaceStatistics()
    .sort((a, b) => b.space_used_size - a.space_used_size)
    .slice(0, 5)
    .map((space) => ({
      name: space.space_name,
      size: space.space_size,
      used: space.space_used_size,
      available: space.space_available_size
    }))
}

/** The memory the process may use: its cgroup's limit when that is below the host's RAM, else the RAM. */
export function memoryLimit (limits: CgroupLimits, hostBytes = totalmem()): ProcessMemory['limit'] {
  return limits.memory !== null && limits.memory.bytes < hostBytes ? limits.memory : { bytes: hostBytes, source: 'host' }
}

export function createProcessCollector (log: { warn: (obj: object, msg: string) => void }, limits = NO_CGROUP_LIMITS): Collector<ProcessMemory> {
  const failures = failureLogger(log, 'reading /proc/self')
  const limit = memoryLimit(limits)
  let last: ProcessMemory
  function sample (): void {
    const memory = process.memoryUsage()
    let counts = NO_PROC
    if (HAS_PROC) {
      try {
        counts = readProc()
        failures.recovered()
      } catch (error) {
        failures.failed(error)
      }
    }
    last = {
      pid: process.pid,
      memoryPercent: round(memory.rss / limit.bytes * 100, 2),
      limit,
      rss: memory.rss,
      vms: counts.vms,
      heapTotal: memory.heapTotal,
      heapUsed: memory.heapUsed,
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      numThreads: counts.numThreads,
      openFiles: counts.openFiles,
      connections: counts.connections,
      heapSpaces: heapSpaces()
    }
  }
  sample()
  return { sample, read: () => last, close () {} }
}
