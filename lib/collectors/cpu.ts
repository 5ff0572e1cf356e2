import { availableParallelism, cpus, loadavg } from 'node:os'
import { round } from '../format.js'
import type { Collector } from './types.js'

export interface CpuSample {
  processPercent: number | null
  systemPercent: number | null
  cores: number
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

/** Process and system CPU as a percent of the whole machine (all cores), from deltas between two samples. */
export function createCpuCollector (): Collector<CpuSample> {
  const cores = availableParallelism()
  let lastUsage = process.cpuUsage()
  let lastWall = performance.now()
  let lastSystem = systemTimes()
  let last: CpuSample = { processPercent: null, systemPercent: null, cores, loadAverage: null }

  function sample (): void {
    const usage = process.cpuUsage()
    const wall = performance.now()
    const system = systemTimes()
    const elapsedMicros = (wall - lastWall) * 1000
    const busyMicros = usage.user - lastUsage.user + usage.system - lastUsage.system
    const systemTotal = system.total - lastSystem.total
    last = {
      processPercent: elapsedMicros > 0 ? clampPercent(busyMicros / elapsedMicros / cores * 100) : null,
      systemPercent: systemTotal > 0 ? clampPercent((1 - (system.idle - lastSystem.idle) / systemTotal) * 100) : null,
      cores,
      // Windows reports [0, 0, 0]: it has no load average.
      loadAverage: process.platform === 'win32' ? null : loadavg().map((value) => round(value, 2)) as [number, number, number]
    }
    lastUsage = usage
    lastWall = wall
    lastSystem = system
  }
  return { sample, read: () => last, close () {} }
}
