import type { HeapSpaceInfo } from 'node:v8'
import { GC_BOUND_INDEXES, GC_DURATION_BOUNDS, seconds } from '../buckets.js'
import { labelled, single, type Family } from '../family.js'
import type { MetricsRead } from '../read.js'

const PROCESS_START_SECONDS = Math.round(Date.now() - process.uptime() * 1000) / 1000

/** prom-client's `space` label: the V8 space name without its `_space` suffix (`old`, `new`, `code`...). */
const spaceLabel = (name: string): string => name.endsWith('_space') ? name.slice(0, -6) : name

function spaces (figure: 'space_size' | 'space_used_size' | 'space_available_size') {
  // All spaces: the snapshot keeps only the five largest, and series must not come and go.
  return (read: MetricsRead) => read.heapSpaces.map((space: HeapSpaceInfo) => [[spaceLabel(space.space_name)], space[figure]] as const)
}

/**
 * The answering process's own figures, prom-client's names where they mean the same. Written without shared mode
 * only: in shared mode a scrape reaches any worker, so they would jump between scrapes (./fleet.ts instead).
 */
export const PROCESS_FAMILIES: ReadonlyArray<Family<MetricsRead>> = [
  single('process_cpu_user_seconds_total', 'counter', 'process', 'User CPU time of this process', (read) => read.runtime?.cpuUserSeconds),
  single('process_cpu_system_seconds_total', 'counter', 'process', 'System CPU time of this process', (read) => read.runtime?.cpuSystemSeconds),
  single('process_cpu_seconds_total', 'counter', 'process', 'User and system CPU time of this process',
    (read) => read.runtime === null ? null : read.runtime.cpuUserSeconds + read.runtime.cpuSystemSeconds),
  single('process_start_time_seconds', 'gauge', 'process', 'Start time of the process since the Unix epoch', () => PROCESS_START_SECONDS),
  single('process_resident_memory_bytes', 'gauge', 'process', 'Resident set size', (read) => read.snapshot.memory.process.rss),
  single('process_virtual_memory_bytes', 'gauge', 'process', 'Virtual memory size', (read) => read.snapshot.memory.process.vms),
  single('process_threads', 'gauge', 'process', 'OS threads of this process', (read) => read.snapshot.memory.process.numThreads),
  single('process_open_files', 'gauge', 'process', 'Open regular files (not sockets, pipes or devices)', (read) => read.snapshot.memory.process.openFiles),
  single('process_open_sockets', 'gauge', 'process', 'Open sockets', (read) => read.snapshot.memory.process.connections),
  single('process_open_fds', 'gauge', 'process', 'Open file descriptors', (read) => read.runtime?.openFds),
  single('process_max_fds', 'gauge', 'process', 'Maximum number of open file descriptors', (read) => read.runtime?.maxFds),
  // Not prom-client's nodejs_active_resources_total as well: a gauge ending in _total fails promtool's lint.
  labelled('nodejs_active_resources', 'gauge', 'process', 'Resources keeping the event loop alive, by type', ['type'],
    (read) => [...read.runtime?.activeResources ?? []].map(([type, count]) => [[type], count] as const)),
  // prom-client's name and meaning, since stock boards query it; a gauge that ends in _total fails promtool's lint,
  // so it is declared untyped (a query does not see the type).
  single('nodejs_active_handles_total', 'untyped', 'process', 'Number of active handles (libuv handles: sockets, servers, watchers, child processes)',
    (read) => read.runtime?.activeHandles),
  single('nodejs_active_requests_total', 'untyped', 'process', 'Number of active libuv requests (file system, DNS, writes in progress)',
    (read) => read.runtime?.activeRequests),
  single('nodejs_heap_size_total_bytes', 'gauge', 'process', 'V8 heap size', (read) => read.snapshot.memory.process.heapTotal),
  single('nodejs_heap_size_used_bytes', 'gauge', 'process', 'V8 heap used', (read) => read.snapshot.memory.process.heapUsed),
  single('nodejs_external_memory_bytes', 'gauge', 'process', 'Memory of C++ objects bound to JavaScript objects', (read) => read.snapshot.memory.process.external),
  single('nodejs_array_buffers_bytes', 'gauge', 'process', 'Memory of ArrayBuffers and SharedArrayBuffers, Buffers included',
    (read) => read.snapshot.memory.process.arrayBuffers),
  labelled('nodejs_heap_space_size_total_bytes', 'gauge', 'process', 'Size of each V8 heap space', ['space'], spaces('space_size')),
  labelled('nodejs_heap_space_size_used_bytes', 'gauge', 'process', 'Used size of each V8 heap space', ['space'], spaces('space_used_size')),
  labelled('nodejs_heap_space_size_available_bytes', 'gauge', 'process', 'Available size of each V8 heap space', ['space'], spaces('space_available_size')),
  single('nodejs_eventloop_lag_seconds', 'gauge', 'process', 'Lag of the event loop: how late a setImmediate queued at the last sample ran',
    (read) => read.runtime?.eventLoopLagSeconds),
  single('nodejs_eventloop_lag_p50_seconds', 'gauge', 'process', 'Median event loop delay over the last sample interval',
    (read) => seconds(read.snapshot.eventLoop.delayMs.p50)),
  single('nodejs_eventloop_lag_p99_seconds', 'gauge', 'process', '99th percentile event loop delay over the last sample interval',
    (read) => seconds(read.snapshot.eventLoop.delayMs.p99)),
  single('nodejs_eventloop_lag_max_seconds', 'gauge', 'process', 'Largest event loop delay over the last sample interval',
    (read) => seconds(read.snapshot.eventLoop.delayMs.max)),
  single('nodejs_eventloop_utilization_ratio', 'gauge', 'process', 'Event loop utilization (0 to 1) over the last sample interval',
    (read) => read.snapshot.eventLoop.utilization),
  {
    name: 'nodejs_gc_duration_seconds',
    type: 'histogram',
    help: 'Garbage collection pauses by kind (_count: collections, _sum: total pause)',
    labels: ['kind'],
    scope: 'process',
    write (out, read) {
      for (const [kind, histogram] of read.gc ?? []) out.histogram([kind], histogram, GC_DURATION_BOUNDS, GC_BOUND_INDEXES)
    }
  }
]
