import type { ProcessRow } from '../../schemas/processes.js'
import { msToSeconds } from '../buckets.js'
import { labelled, single, type Family } from '../family.js'
import type { MetricsRead } from '../read.js'

type Gauge = 'rss' | 'heapUsed' | 'cpuProcessPercent' | 'eventLoopUtilization' | 'eventLoopDelayP99Ms'

const rows = (read: MetricsRead): readonly ProcessRow[] => read.fleet?.processes ?? []
/** The fleet's sum over live processes, as the shared store adds them up. */
const sum = (read: MetricsRead, gauge: 'rss' | 'heapUsed' | 'heapTotal'): number | null | undefined => read.fleet?.gauges[gauge]

/** Each live process's gauge, labelled with its pid, worker id and host. */
function perProcess (name: string, help: string, gauge: Gauge, convert: (value: number) => number = (value) => value): Family<MetricsRead> {
  return labelled(name, 'gauge', 'fleet', help, ['pid', 'worker', 'hostname'], (read) => rows(read).map((row) => {
    const value = row[gauge]
    return [[String(row.pid), row.workerId ?? '', row.hostname], value === null || value === undefined ? null : convert(value)] as const
  }))
}

/**
 * Shared mode's own families, the way prometheus_client's multiprocess mode and prom-client's AggregatorRegistry
 * serve a fleet behind one port: whichever worker answers, the text is the fleet's. In place of the answering
 * process's figures (scope `process`, which would jump from worker to worker), the fleet's sums and each live
 * process's gauges.
 */
export const FLEET_FAMILIES: ReadonlyArray<Family<MetricsRead>> = [
  single('server_watch_processes', 'gauge', 'fleet', 'Live processes sharing this app\'s directory', (read) => read.fleet?.processes.length),
  single('process_resident_memory_bytes', 'gauge', 'fleet', 'Resident set size, summed over live processes', (read) => sum(read, 'rss')),
  single('nodejs_heap_size_used_bytes', 'gauge', 'fleet', 'V8 heap used, summed over live processes', (read) => sum(read, 'heapUsed')),
  single('nodejs_heap_size_total_bytes', 'gauge', 'fleet', 'V8 heap size, summed over live processes', (read) => sum(read, 'heapTotal')),
  perProcess('server_watch_process_resident_memory_bytes', 'Resident set size of each live process', 'rss'),
  perProcess('server_watch_process_heap_used_bytes', 'V8 heap used of each live process', 'heapUsed'),
  perProcess('server_watch_process_cpu_ratio', 'CPU of each live process over its last sample interval (1: its CPU limit)', 'cpuProcessPercent',
    (percent) => Math.round(percent * 100) / 10_000),
  perProcess('server_watch_process_eventloop_utilization_ratio', 'Event loop utilization (0 to 1) of each live process', 'eventLoopUtilization'),
  perProcess('server_watch_process_eventloop_lag_p99_seconds', '99th percentile event loop delay of each live process', 'eventLoopDelayP99Ms', msToSeconds)
]
