import { closeSync, openSync, readSync } from 'node:fs'
import { availableParallelism, cpus, loadavg } from 'node:os'
import { round } from '../format.js'
import type { CpuSnapshot } from '../schemas/health.js'
import { NO_CGROUP_LIMITS, type CgroupLimits } from './cgroup.js'
import { everyNth, type Collector } from './types.js'

/** The snapshot's `cpu`; `limitCores` is the cgroup's quota in cores when it is below the host's cores. */
export type CpuSample = CpuSnapshot

export interface SystemTimes { idle: number, total: number }

/** The host's line of /proc/stat (`cpu  user nice system idle iowait irq softirq ...`), summed as `os.cpus()` is. */
export function parseProcStat (text: string): SystemTimes | null {
  const fields = text.slice(0, text.indexOf('\n')).split(/\s+/)
  if (fields[0] !== 'cpu' || fields.length < 7) return null
  const [user, nice, sys, idle, , irq] = fields.slice(1, 7).map(Number) as [number, number, number, number, number, number]
  // iowait and softirq are left out, as libuv's os.cpus() leaves them out.
  return { idle, total: user + nice + sys + idle + irq }
}

/** Reads the first line of /proc/stat again and again from one open descriptor: no open and close per sample. */
function openProcStat (): { read (): SystemTimes | null, close (): void } | null {
  let fd: number
  try {
    fd = openSync('/proc/stat', 'r')
  } catch {
    return null
  }
  // The host's line comes first and is under 200 bytes; the rest of the file (one line per core, interrupts) is not read.
  const buffer = Buffer.alloc(256)
  return {
    read () {
      try {
        return parseProcStat(buffer.toString('latin1', 0, readSync(fd, buffer, 0, buffer.length, 0)))
      } catch {
        return null
      }
    },
    close () {
      if (fd === -1) return
      closeSync(fd)
      fd = -1
    }
  }
}

function cpuTimes (): SystemTimes {
  let idle = 0
  let total = 0
  for (const cpu of cpus()) {
    const { user, nice, sys, idle: cpuIdle, irq } = cpu.times
    idle += cpuIdle
    total += user + nice + sys + cpuIdle + irq
  }
  return { idle, total }
}

const clampPercent = (value: number) => round(Math.min(100, Math.max(0, value)), 2)

export interface CpuClock {
  cpuUsage (): NodeJS.CpuUsage
  now (): number
  /** The host's CPU times; tests give their own (default: /proc/stat on Linux, else `os.cpus()`). */
  systemTimes? (): SystemTimes
}
const PROCESS_CLOCK: CpuClock = { cpuUsage: () => process.cpuUsage(), now: () => performance.now() }

/**
 * Process CPU as a percent of what it may use (its cgroup's quota, else all the host's cores), system CPU as a
 * percent of the whole host, from deltas between two samples.
 */
export function createCpuCollector (limits: CgroupLimits = NO_CGROUP_LIMITS, clock = PROCESS_CLOCK): Collector<CpuSample> {
  const cores = availableParallelism()
  const quota = limits.cpu !== null && limits.cpu.cores < cores ? limits.cpu : null
  const limitCores = quota === null ? cores : quota.cores
  const limitSource = quota === null ? 'host' : quota.source
  let lastUsage = clock.cpuUsage()
  let lastWall = clock.now()
  // Linux: /proc/stat's first line, without the per-core /proc/cpuinfo read that os.cpus() also does (about 10 µs
  // a sample instead of 50, benchmark/README.md). Chosen once: the two count in different units.
  const procStat = clock.systemTimes === undefined && process.platform === 'linux' ? openProcStat() : null
  const first = procStat?.read() ?? null
  if (first === null) procStat?.close()
  const systemTimes: () => SystemTimes = clock.systemTimes ?? (first === null ? cpuTimes : () => procStat!.read() ?? lastSystem)
  let lastSystem: SystemTimes = first ?? systemTimes()
  let last: CpuSample = { processPercent: null, systemPercent: null, cores, limitCores, limitSource, loadAverage: null }
  const slowFigures = everyNth()

  function sample (): void {
    const usage = clock.cpuUsage()
    const wall = clock.now()
    const system = systemTimes()
    const elapsedMicros = (wall - lastWall) * 1000
    const busyMicros = usage.user - lastUsage.user + usage.system - lastUsage.system
    const systemTotal = system.total - lastSystem.total
    last = {
      processPercent: elapsedMicros > 0 ? clampPercent(busyMicros / elapsedMicros / limitCores * 100) : null,
      // The host's times move in ticks of 10 ms: two samples within one tick (refresh() right after a sample) measure
      // nothing, and keep the last figure and the baseline, so that the next one measures from the baseline.
      systemPercent: systemTotal > 0 ? clampPercent((1 - (system.idle - lastSystem.idle) / systemTotal) * 100) : last.systemPercent,
      cores,
      limitCores,
      limitSource,
      // Windows reports [0, 0, 0]: it has no load average. A 1-minute average: every 5th sample is enough.
      loadAverage: process.platform === 'win32' ? null : slowFigures() ? loadavg().map((value) => round(value, 2)) as [number, number, number] : last.loadAverage
    }
    lastUsage = usage
    lastWall = wall
    if (systemTotal > 0) lastSystem = system
  }
  return { sample, read: () => last, close () { if (first !== null) procStat?.close() } }
}
