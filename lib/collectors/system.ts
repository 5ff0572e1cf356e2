import { readFile } from 'node:fs/promises'
import si from 'systeminformation'
import type { SystemMemory } from '../schemas/health.js'
import { round } from '../format.js'
import { failureLogger, type Collector } from './types.js'

const PAGE_SIZE = 4096
const HAS_PROC = process.platform === 'linux'

const EMPTY: SystemMemory = {
  total: null,
  available: null,
  used: null,
  free: null,
  percent: null,
  active: null,
  inactive: null,
  buffers: null,
  cached: null,
  shared: null,
  swap: { total: null, used: null, free: null, percent: null, sin: null, sout: null }
}

const percent = (part: number, whole: number) => whole > 0 ? round(part / whole * 100, 2) : 0

/**
 * psutil's figures that systeminformation does not give: Active, Inactive and Shmem (its `active` is
 * total - available) from /proc/meminfo, and swap-in/out since boot from /proc/vmstat (pages, reported in bytes).
 */
async function readProcExtras () {
  const [meminfo, vmstat] = await Promise.all([readFile('/proc/meminfo', 'utf8'), readFile('/proc/vmstat', 'utf8')])
  const kB = (name: string) => {
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(meminfo)
    return match === null ? null : Number(match[1]) * 1024
  }
  const pages = (name: string) => {
    const match = new RegExp(`^${name} (\\d+)`, 'm').exec(vmstat)
    return match === null ? null : Number(match[1]) * PAGE_SIZE
  }
  return {
    active: kB('Active'),
    inactive: kB('Inactive'),
    shared: kB('Shmem'),
    sin: pages('pswpin'),
    sout: pages('pswpout')
  }
}

export function createSystemCollector (log: { warn: (obj: object, msg: string) => void }): Collector<SystemMemory> {
  const failures = failureLogger(log, 'reading system memory')
  let last = EMPTY

  async function sample (): Promise<void> {
    try {
      const [memory, extras] = await Promise.all([si.mem(), HAS_PROC ? readProcExtras() : null])
      last = {
        total: memory.total,
        available: memory.available,
        used: memory.used,
        free: memory.free,
        percent: percent(memory.total - memory.available, memory.total),
        active: extras?.active ?? null,
        inactive: extras?.inactive ?? null,
        buffers: memory.buffers ?? null,
        cached: memory.cached ?? null,
        shared: extras?.shared ?? null,
        swap: {
          total: memory.swaptotal,
          used: memory.swapused,
          free: memory.swapfree,
          percent: percent(memory.swapused, memory.swaptotal),
          sin: extras?.sin ?? null,
          sout: extras?.sout ?? null
        }
      }
      failures.recovered()
    } catch (error) {
      failures.failed(error)
      last = EMPTY
    }
  }
  return { sample, read: () => last, close () {} }
}
