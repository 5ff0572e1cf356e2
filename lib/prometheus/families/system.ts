import { single, type Family } from '../family.js'
import type { MetricsRead } from '../read.js'

const ratio = (percent: number | null): number | null => percent === null ? null : Math.round(percent * 100) / 10_000

/** The host: the same for every process on it, so written in both modes. */
export const SYSTEM_FAMILIES: ReadonlyArray<Family<MetricsRead>> = [
  single('system_memory_total_bytes', 'gauge', 'any', 'Total memory of the host', (read) => read.snapshot.memory.system.total),
  single('system_memory_available_bytes', 'gauge', 'any', 'Memory available to new processes without swapping', (read) => read.snapshot.memory.system.available),
  single('system_memory_used_bytes', 'gauge', 'any', 'Used memory of the host', (read) => read.snapshot.memory.system.used),
  single('system_memory_free_bytes', 'gauge', 'any', 'Unused memory of the host', (read) => read.snapshot.memory.system.free),
  single('system_memory_active_bytes', 'gauge', 'any', 'Recently used memory (Active in /proc/meminfo)', (read) => read.snapshot.memory.system.active),
  single('system_memory_inactive_bytes', 'gauge', 'any', 'Memory not recently used (Inactive in /proc/meminfo)', (read) => read.snapshot.memory.system.inactive),
  single('system_memory_buffers_bytes', 'gauge', 'any', 'Memory used by kernel buffers', (read) => read.snapshot.memory.system.buffers),
  single('system_memory_cached_bytes', 'gauge', 'any', 'Memory used by the page cache', (read) => read.snapshot.memory.system.cached),
  single('system_memory_shared_bytes', 'gauge', 'any', 'Shared memory (Shmem in /proc/meminfo)', (read) => read.snapshot.memory.system.shared),
  single('system_swap_total_bytes', 'gauge', 'any', 'Total swap', (read) => read.snapshot.memory.system.swap.total),
  single('system_swap_used_bytes', 'gauge', 'any', 'Used swap', (read) => read.snapshot.memory.system.swap.used),
  single('system_swap_free_bytes', 'gauge', 'any', 'Free swap', (read) => read.snapshot.memory.system.swap.free),
  single('system_swap_in_bytes_total', 'counter', 'any', 'Bytes swapped in since boot', (read) => read.snapshot.memory.system.swap.sin),
  single('system_swap_out_bytes_total', 'counter', 'any', 'Bytes swapped out since boot', (read) => read.snapshot.memory.system.swap.sout),
  single('system_cpu_utilization_ratio', 'gauge', 'any', 'Host CPU utilization (0 to 1, all cores) over the last sample interval',
    (read) => ratio(read.snapshot.cpu.systemPercent)),
  single('system_cpu_cores', 'gauge', 'any', 'CPU cores available to this process', (read) => read.snapshot.cpu.cores),
  single('system_load1', 'gauge', 'any', 'Host load average over 1 minute', (read) => read.snapshot.cpu.loadAverage?.[0]),
  single('system_load5', 'gauge', 'any', 'Host load average over 5 minutes', (read) => read.snapshot.cpu.loadAverage?.[1]),
  single('system_load15', 'gauge', 'any', 'Host load average over 15 minutes', (read) => read.snapshot.cpu.loadAverage?.[2])
]
