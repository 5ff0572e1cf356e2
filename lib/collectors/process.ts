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

/** What /metrics gives of the process beyond the snapshot, read on the sampling loop (never at scrape time). */
export interface RuntimeFigures {
  cpuUserSeconds: number
  cpuSystemSeconds: number
  /** Every open descriptor (Linux), and the soft limit, read once; null without /proc. */
  openFds: number | null
  maxFds: number | null
  /** `process.getActiveResourcesInfo()` counted by type. */
  activeResources: ReadonlyMap<string, number>
  /**
   * The handles among them, as prom-client's nodejs_active_handles_total counts them (`process._getActiveHandles()`:
   * libuv handles such as sockets, servers, watchers, child processes): the resources less the requests in progress
   * (`…Req`, `…ReqWrap`, `WriteWrap`…) and the timers and immediates, which Node lists as `Timeout` and `Immediate`.
   */
  activeHandles: number
  /** The requests in progress among them (prom-client's nodejs_active_requests_total, `process._getActiveRequests()`). */
  activeRequests: number
  /**
   * prom-client's nodejs_eventloop_lag_seconds: how late a `setImmediate` queued at the last sample ran (its value
   * at a scrape is the last probe that completed); null before the first.
   */
  eventLoopLagSeconds: number | null
}

export interface ProcessCollector extends Collector<ProcessMemory> {
  /** Every V8 heap space as last read, for /metrics: read once with the snapshot's five largest. */
  heapSpaces (): readonly HeapSpaceInfo[]
  runtime (): RuntimeFigures
}

/** A request in progress rather than a handle: the ReqWrap types Node lists (FSReqCallback, GetAddrInfoReqWrap, WriteWrap…). */
const REQUEST_TYPE = /Req(?:Wrap|Callback|Promise)?$|^(?:Write|Shutdown|Connect|Send)Wrap$/
const NOT_HANDLES = new Set(['Timeout', 'Immediate'])

export function countResources (types: readonly string[]): { byType: Map<string, number>, handles: number, requests: number } {
  const byType = new Map<string, number>()
  let handles = 0
  let requests = 0
  for (const type of types) {
    byType.set(type, (byType.get(type) ?? 0) + 1)
    if (REQUEST_TYPE.test(type)) requests++
    else if (!NOT_HANDLES.has(type)) handles++
  }
  return { byType, handles, requests }
}

/** The soft limit on descriptors, from /proc/self/limits (as prom-client reads it); null without /proc. */
function readMaxFds (): number | null {
  try {
    const match = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))
    return match === null ? null : Number(match[1])
  } catch {
    return null
  }
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
  const maxFds = HAS_PROC ? readMaxFds() : null
  let runtime: RuntimeFigures
  let lagSeconds: number | null = null
  let lagProbe: ReturnType<typeof setImmediate> | null = null
  function probeLag (): void {
    if (lagProbe !== null) return
    const start = process.hrtime.bigint()
    lagProbe = setImmediate(() => {
      lagProbe = null
      lagSeconds = Number(process.hrtime.bigint() - start) / 1e9
    })
  }
  function sample (): Promise<void> | void {
    probeLag()
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
    const usage = process.cpuUsage()
    const resources = countResources(process.getActiveResourcesInfo())
    runtime = {
      cpuUserSeconds: usage.user / 1e6,
      cpuSystemSeconds: usage.system / 1e6,
      openFds: descriptors?.read().descriptors ?? null,
      maxFds,
      activeResources: resources.byType,
      activeHandles: resources.handles,
      activeRequests: resources.requests,
      eventLoopLagSeconds: lagSeconds
    }
  }
  // The first figures now, without waiting for the first count of descriptors (the first sample waits for it).
  descriptors?.sample()
  record(true)
  return {
    sample,
    read: () => last,
    heapSpaces: () => allSpaces,
    // The lag of the last probe that completed: a probe started by this sample lands after it.
    runtime: () => ({ ...runtime, eventLoopLagSeconds: lagSeconds }),
    close () {
      descriptors?.close()
      if (lagProbe !== null) clearImmediate(lagProbe)
    }
  }
}
