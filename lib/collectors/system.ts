import { readFileSync } from 'node:fs'
import { endianness } from 'node:os'
import { join } from 'node:path'
import si from 'systeminformation'
import type { SystemMemory } from '../schemas/health.js'
import { round } from '../format.js'
import { everyNth, failureLogger, type Collector } from './types.js'

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

/** AT_PAGESZ in the auxiliary vector: the kernel's page size as it told this process at exec. */
const AT_PAGESZ = 6
const WORD_BYTES = ['arm', 'ia32', 'mips', 'mipsel', 'ppc', 's390'].includes(process.arch) ? 4 : 8

/**
 * The page size that /proc/vmstat counts swap in, read from /proc/self/auxv (type and value words, to AT_NULL):
 * 4 KiB on x86 but 16 or 64 KiB on some arm64 and ppc64 kernels. Read once; null if it cannot be read.
 */
export function readPageSize (path = '/proc/self/auxv', wordBytes = WORD_BYTES, littleEndian = endianness() === 'LE'): number | null {
  let auxv: Buffer
  try {
    auxv = readFileSync(path)
  } catch {
    return null
  }
  const word = (at: number) => Number(wordBytes === 8
    ? (littleEndian ? auxv.readBigUInt64LE(at) : auxv.readBigUInt64BE(at))
    : (littleEndian ? auxv.readUInt32LE(at) : auxv.readUInt32BE(at)))
  for (let at = 0; at + 2 * wordBytes <= auxv.length; at += 2 * wordBytes) {
    const type = word(at)
    if (type === 0) break
    if (type === AT_PAGESZ) return word(at + wordBytes)
  }
  return null
}

const percent = (part: number, whole: number) => whole > 0 ? round(part / whole * 100, 2) : 0

/** `Name: 123 kB` lines of /proc/meminfo, or `name 123` lines of /proc/vmstat, into a map of numbers. */
function parseFields (text: string, separator: string): Map<string, number> {
  const fields = new Map<string, number>()
  for (const line of text.split('\n')) {
    const at = line.indexOf(separator)
    if (at > 0) fields.set(line.slice(0, at), Number.parseInt(line.slice(at + 1).trim(), 10))
  }
  return fields
}

/**
 * Linux: psutil's figures straight from /proc/meminfo and /proc/vmstat, read synchronously (a /proc read is a
 * few microseconds and never touches a disk). systeminformation reads the same file but not Active, Inactive,
 * Shmem or swap-in/out, and going through it cost ~750 µs a sample against ~60 µs here.
 * `used` is psutil's (total - free - buffers - cache - reclaimable slab): memory that programs hold, not the cache
 * the kernel would give back.
 */
function readProcMemory (root: string, pageSize: number | null): SystemMemory {
  const meminfo = parseFields(readFileSync(join(root, 'proc/meminfo'), 'utf8'), ':')
  const vmstat = parseFields(readFileSync(join(root, 'proc/vmstat'), 'utf8'), ' ')
  const kB = (name: string) => {
    const value = meminfo.get(name)
    return value === undefined || Number.isNaN(value) ? null : value * 1024
  }
  const pages = (name: string) => {
    const value = vmstat.get(name)
    return value === undefined || Number.isNaN(value) || pageSize === null ? null : value * pageSize
  }
  const total = kB('MemTotal') ?? 0
  const free = kB('MemFree') ?? 0
  const available = kB('MemAvailable') ?? free
  const buffers = kB('Buffers') ?? 0
  const cached = kB('Cached') ?? 0
  const swapTotal = kB('SwapTotal') ?? 0
  const swapFree = kB('SwapFree') ?? 0
  return {
    total,
    available,
    used: Math.max(0, total - free - buffers - cached - (kB('SReclaimable') ?? 0)),
    free,
    percent: percent(total - available, total),
    active: kB('Active'),
    inactive: kB('Inactive'),
    buffers,
    cached,
    shared: kB('Shmem'),
    swap: {
      total: swapTotal,
      used: swapTotal - swapFree,
      free: swapFree,
      percent: percent(swapTotal - swapFree, swapTotal),
      sin: pages('pswpin'),
      sout: pages('pswpout')
    }
  }
}

/** Elsewhere: systeminformation (which may run a command such as vm_stat); what it cannot tell is null. */
async function readPortableMemory (): Promise<SystemMemory> {
  const memory = await si.mem()
  return {
    ...EMPTY,
    total: memory.total,
    available: memory.available,
    used: memory.used,
    free: memory.free,
    percent: percent(memory.total - memory.available, memory.total),
    buffers: memory.buffers ?? null,
    cached: memory.cached ?? null,
    swap: {
      ...EMPTY.swap,
      total: memory.swaptotal,
      used: memory.swapused,
      free: memory.swapfree,
      percent: percent(memory.swapused, memory.swaptotal)
    }
  }
}

/** The host's memory; `root` and `pageSize` are for tests, which give a fixture tree. */
export function createSystemCollector (
  log: { warn: (obj: object, msg: string) => void },
  useProc = HAS_PROC,
  { root = '/', pageSize = useProc ? readPageSize(join(root, 'proc/self/auxv')) : null }: { root?: string, pageSize?: number | null } = {}
): Collector<SystemMemory> {
  const failures = failureLogger(log, 'reading system memory')
  let last = EMPTY
  // Every 5th sample (SLOW_FIGURES_EVERY): the two /proc files are parsed whole, the largest read of a sample.
  const due = everyNth()

  const failed = (error: unknown) => {
    failures.failed(error)
    last = EMPTY
  }
  function sample (): Promise<void> | undefined {
    if (!due()) return undefined
    if (!useProc) {
      return readPortableMemory().then((memory) => {
        last = memory
        failures.recovered()
      }, failed)
    }
    try {
      last = readProcMemory(root, pageSize)
      failures.recovered()
    } catch (error) {
      failed(error)
    }
    return undefined
  }
  return { sample, read: () => last, close () {} }
}
