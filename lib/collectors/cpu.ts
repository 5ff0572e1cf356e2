import { availableParallelism, cpus, loadavg } from 'node:os'
import { round } from '../format.js'
import { NO_CGROUP_LIMITS, type CgroupLimits, type LimitSource } from './cgroup.js'
import type { Collector } from './types.js'

export interface CpuSample {
  processPercent: number | null
  systemPercent: number | null
  cores: number
  /** What processPercent is a percent of: the cgroup's quota in cores when it is below the host's cores. */
  limitCores: number
  limitSource: LimitSource
  loadAverage: [number, number, number] | null
}

function systemTimes (): { idle: number, total: number } {
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
  let lastSystem = systemTimes()
  let last: CpuSample = { processPercent: null, systemPercent: null, cores, limitCores, limitSource, loadAverage: null }

  function sample (): void {
    const usage = clock.cpuUsage()
    const wall = clock.now()
    const system = systemTimes()
    const elapsedMicros = (wall - lastWall) * 1000
    const busyMicros = usage.user - lastUsage.user + usage.system - lastUsage.system
    const systemTotal = system.total - lastSystem.total
    last = {
      processPercent: elapsedMicros > 0 ? clampPercent(busyMicros / elapsedMicros / limitCores * 100) : null,
      systemPercent: systemTotal > 0 ? clampPercent((1 - (system.idle - lastSystem.idle) / systemTotal) * 100) : null,
      cores,
      limitCores,
      limitSource,
      // Windows reports [0, 0, 0]: it has no load average.
      loadAverage: process.platform === 'win32' ? null : loadavg().map((value) => round(value, 2)) as [number, number, number]
    }
    lastUsage = usage
    lastWall = wall
    lastSystem = system
  }
  return { sample, read: () => last, close () {} }
}
