import { escapeLabelValue, formatValue, msToSeconds } from '../prometheus.js'
import type { FleetView } from './merge.js'

/**
 * Shared mode's /metrics, the way Python's prometheus_client multiprocess mode and prom-client's AggregatorRegistry
 * serve a fleet behind one port: whichever worker answers a scrape, the text is the fleet's. The HTTP families are
 * rendered from the merged counts (no pid label: counters and histograms add up, dead processes included, so a
 * worker's restart is no false reset). The families that describe only the answering process are dropped, since
 * they would jump from worker to worker between scrapes; each live process's memory and event loop are given
 * instead with `pid` and `worker` labels, next to the fleet's sums.
 */
export const PER_PROCESS_FAMILIES = new Set([
  'process_cpu_user_seconds_total', 'process_cpu_system_seconds_total', 'process_cpu_seconds_total',
  'process_start_time_seconds', 'process_resident_memory_bytes', 'process_virtual_memory_bytes', 'process_threads',
  'process_open_files', 'process_open_sockets', 'process_open_fds', 'process_max_fds', 'nodejs_active_resources',
  'nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_external_memory_bytes',
  'nodejs_array_buffers_bytes', 'nodejs_heap_space_size_total_bytes', 'nodejs_heap_space_size_used_bytes',
  'nodejs_heap_space_size_available_bytes', 'nodejs_eventloop_lag_p50_seconds', 'nodejs_eventloop_lag_p99_seconds',
  'nodejs_eventloop_lag_max_seconds', 'nodejs_eventloop_utilization_ratio', 'nodejs_gc_duration_seconds'
])

/** Removes the families of `names` (HELP, TYPE and samples) from an exposition. */
export function dropFamilies (text: string, names: ReadonlySet<string>): string {
  let out = ''
  let dropping = false
  for (const line of text.split('\n')) {
    if (line.startsWith('# HELP ')) {
      const name = line.slice(7, line.indexOf(' ', 7))
      dropping = names.has(name)
    }
    if (!dropping && line !== '') out += `${line}\n`
  }
  return out
}

type Gauge = 'rss' | 'heapUsed' | 'heapTotal' | 'cpuProcessPercent' | 'eventLoopUtilization' | 'eventLoopDelayP99Ms'
const PROCESS_GAUGES: Array<[string, string, Gauge, (value: number) => number]> = [
  ['server_watch_process_resident_memory_bytes', 'Resident set size of each live process', 'rss', (v) => v],
  ['server_watch_process_heap_used_bytes', 'V8 heap used of each live process', 'heapUsed', (v) => v],
  ['server_watch_process_heap_total_bytes', 'V8 heap size of each live process', 'heapTotal', (v) => v],
  ['server_watch_process_cpu_ratio', 'CPU of each live process over its last sample interval (1: its CPU limit)', 'cpuProcessPercent', (v) => Math.round(v * 100) / 10_000],
  ['server_watch_process_eventloop_utilization_ratio', 'Event loop utilization (0 to 1) of each live process', 'eventLoopUtilization', (v) => v],
  ['server_watch_process_eventloop_lag_p99_seconds', '99th percentile event loop delay of each live process', 'eventLoopDelayP99Ms', msToSeconds]
]

/** The fleet's own families: the number of live processes, and each one's gauges labelled with pid and worker. */
export function fleetFamilies (view: FleetView): string {
  let text = '# HELP server_watch_processes Live processes sharing this app\'s directory\n# TYPE server_watch_processes gauge\n'
  text += `server_watch_processes ${view.processes.length}\n`
  const sum = (gauge: Gauge) => view.processes.reduce((total, row) => total + ((row as unknown as Record<Gauge, number | null>)[gauge] ?? 0), 0)
  text += '# HELP process_resident_memory_bytes Resident set size, summed over live processes\n# TYPE process_resident_memory_bytes gauge\n'
  text += `process_resident_memory_bytes ${formatValue(sum('rss'))}\n`
  text += '# HELP nodejs_heap_size_used_bytes V8 heap used, summed over live processes\n# TYPE nodejs_heap_size_used_bytes gauge\n'
  text += `nodejs_heap_size_used_bytes ${formatValue(sum('heapUsed'))}\n`
  text += '# HELP nodejs_heap_size_total_bytes V8 heap size, summed over live processes\n# TYPE nodejs_heap_size_total_bytes gauge\n'
  text += `nodejs_heap_size_total_bytes ${formatValue(sum('heapTotal'))}\n`
  for (const [name, help, gauge, convert] of PROCESS_GAUGES) {
    const rows = view.processes.filter((row) => (row as unknown as Record<Gauge, number | null>)[gauge] !== null)
    if (rows.length === 0) continue
    text += `# HELP ${name} ${help}\n# TYPE ${name} gauge\n`
    for (const row of rows) {
      const value = convert((row as unknown as Record<Gauge, number>)[gauge])
      text += `${name}{pid="${row.pid}",worker="${escapeLabelValue(row.workerId ?? '')}",hostname="${escapeLabelValue(row.hostname)}"} ${formatValue(value)}\n`
    }
  }
  return text
}
