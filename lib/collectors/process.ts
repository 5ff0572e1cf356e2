import { readFileSync } from 'node:fs'
import { totalmem } from 'node:os'
import { getHeapSpaceStatistics, getHeapStatistics, type HeapSpaceInfo } from 'node:v8'
import type { ProcessMemory } from '../schemas/health.js'
import { round } from '../format.js'
import { createDescriptorWalker } from './descriptors.js'
import { NO_CGROUP_LIMITS, type CgroupLimits } from './cgroup.js'
import { everyNth, failureLogger, type Collector } from './types.js'

const HAS_PROC = process.platform === 'linux'
interface ProcCounts { vms: number | null, numThreads: number | null }

const NO_PROC: ProcCounts = { vms: null, numThreads: null }

/** /proc/self/status: what psutil reads, in microseconds, no subprocess. (Descriptors: ./descriptors.ts.) */
function readProc (): ProcCounts {
  const status = readFileSync('/proc/self/status', 'utf8')
  const vmSize = /^VmSize:\s+(\d+) kB/m.exec(status)
  const threads = /^Threads:\s+(\d+)/m.exec(status)
  return {
    vms: vmSize === null ? null : Number(vmSize[1]) * 1024,
    numThreads: threads === null ? null : Number(threads[1])
  }
}

/** The snapshot's five largest spaces by used size, of all the spaces read. */
function largestSpaces (all: readonly HeapSpaceInfo[]): ProcessMemory['heapSpaces'] {
  return [...all]
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

export interface ProcessCollector extends Collector<ProcessMemory> {
  /** Every V8 heap space as last read, for /metrics: read once with the snapshot's five largest. */
  heapSpaces (): readonly HeapSpaceInfo[]
}

export function createProcessCollector (log: { warn: (obj: object, msg: string) => void }, limits = NO_CGROUP_LIMITS): ProcessCollector {
  const failures = failureLogger(log, 'reading /proc/self')
  const descriptors = HAS_PROC ? createDescriptorWalker({ failures: failureLogger(log, 'counting /proc/self/fd') }) : null
  const limit = memoryLimit(limits)
  let last: ProcessMemory
  // Fixed for the life of the process (--max-old-space-size): read once.
  const heapLimit = getHeapStatistics().heap_size_limit
  // Threads, address space, descriptors and heap spaces change slowly: read on every 5th sample (SLOW_FIGURES_EVERY).
  const slowFigures = everyNth()
  let counts = NO_PROC
  let allSpaces: HeapSpaceInfo[] = []
  let spaces: ProcessMemory['heapSpaces'] = []
  function sample (): Promise<void> | void {
    if (!slowFigures()) return record(false)
    const firstCounts = descriptors?.sample()
    return firstCounts === undefined ? record(true) : firstCounts.then(() => record(true))
  }
  function record (slow: boolean): void {
    const memory = process.memoryUsage()
    if (slow) {
      allSpaces = getHeapSpaceStatistics()
      spaces = largestSpaces(allSpaces)
      if (HAS_PROC) {
        try {
          counts = readProc()
          failures.recovered()
        } catch (error) {
          counts = NO_PROC
          failures.failed(error)
        }
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
      heapLimit,
      heapUsedPercent: round(memory.heapUsed / heapLimit * 100, 2),
      external: memory.external,
      arrayBuffers: memory.arrayBuffers,
      numThreads: counts.numThreads,
      openFiles: descriptors?.read().openFiles ?? null,
      connections: descriptors?.read().connections ?? null,
      heapSpaces: spaces
    }
  }
  // The first figures now, without waiting for the first count of descriptors (the first sample waits for it).
  descriptors?.sample()
  record(true)
  return { sample, read: () => last, heapSpaces: () => allSpaces, close () { descriptors?.close() } }
}
