import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export type CgroupSource = 'cgroup-v2' | 'cgroup-v1'
export type LimitSource = CgroupSource | 'host'

/** What the kernel will hold this process to, from its control groups; null where none applies. */
export interface CgroupLimits {
  memory: { bytes: number, source: CgroupSource } | null
  cpu: { cores: number, source: CgroupSource } | null
}

export const NO_CGROUP_LIMITS: CgroupLimits = Object.freeze({ memory: null, cpu: null })

/** v1 writes "no limit" as the largest page-aligned 64-bit value (9223372036854771712): anything this big is none. */
const UNLIMITED_BYTES = 2 ** 60

/** The standard mounts; v1 names `cpu` a link to `cpu,cpuacct`, but not every host makes it, so both are tried. */
const V2_MOUNTS = ['sys/fs/cgroup', 'sys/fs/cgroup/unified']
const v1Mounts = (controller: string, field: string) => [...new Set([`sys/fs/cgroup/${controller}`, `sys/fs/cgroup/${field}`])]

function readText (path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim()
  } catch {
    return null
  }
}

/**
 * The directories of a cgroup and of each ancestor, under each possible mount. A limit set on an ancestor binds
 * too, so the one that applies is the smallest. Walking up also finds the container's own limit when
 * /proc/self/cgroup shows the host's path (no cgroup namespace) but the container mounts its cgroup as the root.
 */
function cgroupDirs (root: string, mounts: string[], path: string): string[] {
  const dirs: string[] = []
  for (const mount of mounts) {
    for (let dir = path; ; dir = dir.slice(0, Math.max(1, dir.lastIndexOf('/')))) {
      dirs.push(join(root, mount, dir))
      if (dir === '/' || dir === '') break
    }
  }
  return dirs
}

function smallest (values: Array<number | null>): number | null {
  let min: number | null = null
  for (const value of values) if (value !== null && (min === null || value < min)) min = value
  return min
}

/** `memory.max`: bytes or `max`. */
function v2Memory (dir: string): number | null {
  const text = readText(join(dir, 'memory.max'))
  return text === null || text === 'max' ? null : bytesOrNull(Number(text))
}

/** `cpu.max`: `$QUOTA $PERIOD` in microseconds, the quota `max` when there is none. */
function v2Cpu (dir: string): number | null {
  const text = readText(join(dir, 'cpu.max'))
  if (text === null) return null
  const [quota = 'max', period = '100000'] = text.split(/\s+/)
  return quota === 'max' ? null : coresOrNull(Number(quota), Number(period))
}

function v1Memory (dir: string): number | null {
  const text = readText(join(dir, 'memory.limit_in_bytes'))
  return text === null ? null : bytesOrNull(Number(text))
}

/** `cpu.cfs_quota_us` is -1 when there is no quota. */
function v1Cpu (dir: string): number | null {
  const quota = readText(join(dir, 'cpu.cfs_quota_us'))
  const period = readText(join(dir, 'cpu.cfs_period_us'))
  return quota === null || period === null ? null : coresOrNull(Number(quota), Number(period))
}

const bytesOrNull = (bytes: number) => Number.isFinite(bytes) && bytes > 0 && bytes < UNLIMITED_BYTES ? bytes : null
const coresOrNull = (quota: number, period: number) => quota > 0 && period > 0 ? quota / period : null

/**
 * Reads /proc/self/cgroup and the limit files under `root` (the file system's root; tests give a fixture tree).
 * Read once at start-up: a few small files, never per request or per sample. A v1 line naming the controller
 * wins over the unified (v2) line, as on a hybrid host where v2 is mounted but the controllers are v1's.
 */
export function readCgroupLimits (root = '/'): CgroupLimits {
  const membership = readText(join(root, 'proc/self/cgroup'))
  if (membership === null) return NO_CGROUP_LIMITS
  let unified: string | null = null
  const v1 = new Map<string, { field: string, path: string }>()
  for (const line of membership.split('\n')) {
    const first = line.indexOf(':')
    const second = line.indexOf(':', first + 1)
    if (first < 0 || second < 0) continue
    const field = line.slice(first + 1, second)
    const path = line.slice(second + 1)
    if (line.slice(0, first) === '0' && field === '') unified = path
    else for (const controller of field.split(',')) v1.set(controller, { field, path })
  }

  function limit (controller: 'memory' | 'cpu', readV1: (dir: string) => number | null, readV2: (dir: string) => number | null) {
    const group = v1.get(controller)
    if (group !== undefined) {
      const value = smallest(cgroupDirs(root, v1Mounts(controller, group.field), group.path).map(readV1))
      return value === null ? null : { value, source: 'cgroup-v1' as const }
    }
    if (unified === null) return null
    const value = smallest(cgroupDirs(root, V2_MOUNTS, unified).map(readV2))
    return value === null ? null : { value, source: 'cgroup-v2' as const }
  }
  const memory = limit('memory', v1Memory, v2Memory)
  const cpu = limit('cpu', v1Cpu, v2Cpu)
  return {
    memory: memory === null ? null : { bytes: memory.value, source: memory.source },
    cpu: cpu === null ? null : { cores: cpu.value, source: cpu.source }
  }
}
