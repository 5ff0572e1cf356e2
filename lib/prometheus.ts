/**
 * The Prometheus text exposition (format 0.0.4) of what the plugin knows, written at scrape time from the live
 * counters and the last sample: nothing is added to the request path. Request durations come from the same fine
 * histograms as the snapshot; every `le` bound below is an edge of those buckets, so the cumulative counts are
 * exact (a value exactly on an edge counts in the next bound up: a bucket holds [lower, upper)).
 */
import { readdirSync, readFileSync } from 'node:fs'
import type { HeapSpaceInfo } from 'node:v8'
import { BUCKET_COUNT, type Histogram, bucketUpperBound } from './histogram.js'
import type { GcFigures } from './collectors/gc.js'
import { OTHER_STATUS_KEY, type Endpoint, type RequestsView } from './requests/store.js'
import type { DatabaseSnapshot } from './schemas/database.js'
import type { AlertsView } from './schemas/alerts.js'
import type { SampledSnapshot } from './watch.js'
import type { Breakdown } from './breakdown/index.js'
import { writeBreakdown } from './breakdown/prometheus.js'

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

/** Seconds. The Prometheus client defaults, with 1 ms and 2.5 ms added: Fastify answers many routes faster than 5 ms. */
export const HTTP_DURATION_BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
/** Seconds: prom-client's GC bounds. */
export const GC_DURATION_BOUNDS = [0.001, 0.01, 0.1, 1, 2, 5]

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version
const PROCESS_START_SECONDS = Math.round(Date.now() - process.uptime() * 1000) / 1000
const HEALTH_STATES = ['healthy', 'degraded', 'unhealthy'] as const
const CHECK_STATES = ['pass', 'fail', 'pending'] as const

/** The index of the fine bucket whose upper edge is each bound: the `le` count is the cumulative count up to it. */
export function boundIndexes (boundsSeconds: readonly number[]): number[] {
  return boundsSeconds.map((seconds) => {
    const ms = Math.round(seconds * 1e7) / 1e4
    for (let index = 0; index < BUCKET_COUNT; index++) {
      if (bucketUpperBound(index) === ms) return index
    }
    throw new RangeError(`${seconds} s is not a bucket edge of the latency histogram`)
  })
}

const HTTP_BOUND_INDEXES = boundIndexes(HTTP_DURATION_BOUNDS)
const GC_BOUND_INDEXES = boundIndexes(GC_DURATION_BOUNDS)

/** Label values escape backslash, double quote and newline; HELP text escapes backslash and newline. */
export function escapeLabelValue (value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/[\\"\n]/g, (c) => c === '\n' ? '\\n' : `\\${c}`) : value
}

export function escapeHelp (text: string): string {
  return /[\\\n]/.test(text) ? text.replace(/[\\\n]/g, (c) => c === '\n' ? '\\n' : '\\\\') : text
}

/** `{a="x",b="y"}` from pairs, values escaped; '' when there are none. */
export function labels (...pairs: Array<[string, string]>): string {
  if (pairs.length === 0) return ''
  return `{${pairs.map(([name, value]) => `${name}="${escapeLabelValue(value)}"`).join(',')}}`
}

/**
 * A sample value as the text format reads it: integers exactly; other numbers at 15 significant digits, the most a
 * double keeps for any decimal, printed in their shortest form, so that unit conversions print 0.024321 rather
 * than 0.024321000000000002 and the printed value still parses back to the number (and to the same float in Go).
 */
export function formatValue (value: number): string {
  if (Number.isInteger(value)) return String(value)
  if (Number.isNaN(value)) return 'NaN'
  if (!Number.isFinite(value)) return value > 0 ? '+Inf' : '-Inf'
  return String(Number(value.toPrecision(15)))
}

/**
 * Milliseconds to seconds at nanosecond resolution, finer than any duration measured here: a sum of many float
 * durations carries rounding error in its last digits (0.00409683199999927), which this drops.
 */
export const msToSeconds = (ms: number): number => Math.round(ms * 1e6) / 1e9

type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary'

class Exposition {
  text = ''

  family (name: string, type: MetricType, help: string): void {
    this.text += `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`
  }

  sample (name: string, labelText: string, value: number): void {
    this.text += `${name}${labelText} ${formatValue(value)}\n`
  }

  /** A family of one unlabelled sample, left out when the platform cannot provide the value. */
  single (name: string, type: MetricType, help: string, value: number | null | undefined): void {
    if (value === null || value === undefined) return
    this.family(name, type, help)
    this.sample(name, '', value)
  }

  /** A family with one sample per label set, left out when every value is null. */
  labelled (name: string, type: MetricType, help: string, samples: Array<[string, number | null | undefined]>): void {
    const present = samples.filter((entry): entry is [string, number] => entry[1] !== null && entry[1] !== undefined)
    if (present.length === 0) return
    this.family(name, type, help)
    for (const [labelText, value] of present) this.sample(name, labelText, value)
  }

  /**
   * One histogram series from a fine millisecond histogram, in seconds. `labelText` is the labels without braces
   * (`a="x",b="y"`). The counts are read in one pass up to the largest bound.
   */
  histogram (name: string, labelText: string, histogram: Histogram, bounds: readonly number[], indexes: readonly number[]): void {
    const counts = histogram.counts
    let cumulative = 0
    let index = 0
    for (let i = 0; i < bounds.length; i++) {
      const last = indexes[i]!
      for (; index <= last; index++) cumulative += counts[index]!
      this.text += `${name}_bucket{${labelText},le="${bounds[i]}"} ${cumulative}\n`
    }
    this.text += `${name}_bucket{${labelText},le="+Inf"} ${histogram.count}\n`
    this.text += `${name}_sum{${labelText}} ${formatValue(msToSeconds(histogram.sum))}\n`
    this.text += `${name}_count{${labelText}} ${histogram.count}\n`
  }
}

const seconds = (ms: number | null | undefined): number | null => ms === null || ms === undefined ? null : msToSeconds(ms)
const ratio = (percent: number | null): number | null => percent === null ? null : Math.round(percent * 100) / 10_000

/**
 * What the exposition reads, all of it from the watch's read model (lib/watch.ts): the request counters through a
 * read-only view and the last sample. The HTTP series come from the counters themselves, so the snapshot's
 * per-endpoint percentiles are not built per scrape.
 */
export interface MetricsSource {
  requests: RequestsView
  snapshot (): SampledSnapshot
  /** Every V8 heap space as last sampled (the snapshot keeps the five largest); no series without it. */
  heapSpaces?: () => readonly HeapSpaceInfo[]
  /** Garbage collections by kind, or null when they are not collected. */
  gc?: () => GcFigures | null
  /** The alert rules and which of them fire. */
  alerts?: () => Pick<AlertsView, 'rules' | 'active'>
  /** The app's own metrics, already written (lib/custom/prometheus.ts). */
  custom?: () => string
  /** With `breakdown`: its per-route families (lib/breakdown/prometheus.ts). */
  breakdown?: Breakdown | null
}

export function renderMetrics (source: MetricsSource): string {
  const out = new Exposition()
  const snapshot = source.snapshot()
  writeInfo(out, snapshot)
  writeHealth(out, snapshot)
  if (source.alerts !== undefined) writeAlerts(out, source.alerts())
  writeHttp(out, source.requests)
  writeProcess(out, snapshot, source.heapSpaces?.() ?? [], source.gc?.() ?? null)
  writeSystem(out, snapshot)
  writeMongo(out, snapshot.database)
  if (source.breakdown != null) writeBreakdown(out, source.breakdown)
  if (source.custom !== undefined) out.text += source.custom()
  return out.text
}

function writeInfo (out: Exposition, snapshot: SampledSnapshot): void {
  out.family('server_watch_info', 'gauge', 'fastify-server-watch and Fastify versions, always 1')
  out.sample('server_watch_info', labels(['version', PACKAGE_VERSION], ['fastify_version', snapshot.instance.fastifyVersion]), 1)
  const [major = '', minor = '', patch = ''] = process.versions.node.split('.')
  out.family('nodejs_version_info', 'gauge', 'Node.js version, always 1')
  out.sample('nodejs_version_info', labels(['version', process.version], ['major', major], ['minor', minor], ['patch', patch]), 1)
}

function writeHealth (out: Exposition, snapshot: SampledSnapshot): void {
  out.labelled('server_watch_health_status', 'gauge', 'Overall health: 1 for the current status, 0 for the others',
    HEALTH_STATES.map((state) => [labels(['status', state]), snapshot.status === state ? 1 : 0]))
  const checks = Object.entries(snapshot.checks)
  const stateSamples: Array<[string, number]> = []
  for (const [name, result] of checks) {
    for (const state of CHECK_STATES) stateSamples.push([labels(['check', name], ['status', state]), result.status === state ? 1 : 0])
  }
  out.labelled('server_watch_check_status', 'gauge', 'Custom check result: 1 for the current status, 0 for the others', stateSamples)
  out.labelled('server_watch_check_duration_seconds', 'gauge', 'Duration of the last run of each custom check',
    checks.map(([name, result]) => [labels(['check', name]), seconds(result.durationMs)]))
}

/** One series per rule, like Prometheus's own ALERTS: 1 while it fires, 0 otherwise (so it can be graphed). */
function writeAlerts (out: Exposition, alerts: Pick<AlertsView, 'rules' | 'active'>): void {
  const firing = new Set(alerts.active.map((alert) => alert.name))
  out.labelled('server_watch_alert_firing', 'gauge', 'Alert rules: 1 while the rule fires, 0 otherwise',
    alerts.rules.map((rule) => [labels(['alertname', rule.name], ['severity', rule.severity]), firing.has(rule.name) ? 1 : 0]))
}

function writeHttp (out: Exposition, requests: RequestsView): void {
  const series: Array<[string, Histogram]> = []
  for (const endpoint of requests.allEndpoints()) collectSeries(endpoint, series)
  if (series.length > 0) {
    out.family('http_requests_total', 'counter', 'Responses by method, route pattern and status class')
    for (const [labelText, histogram] of series) out.sample('http_requests_total', `{${labelText}}`, histogram.count)
    out.family('http_request_duration_seconds', 'histogram', 'Response time by method, route pattern and status class')
    for (const [labelText, histogram] of series) {
      out.histogram('http_request_duration_seconds', labelText, histogram, HTTP_DURATION_BOUNDS, HTTP_BOUND_INDEXES)
    }
  }
  const codes: Array<[string, number]> = []
  for (let code = 100; code < requests.statusCodes.length; code++) {
    const count = requests.statusCodes[code]!
    if (count > 0) codes.push([labels(['code', String(code)]), count])
  }
  if (requests.statusCodes[0]! > 0) codes.push([labels(['code', OTHER_STATUS_KEY]), requests.statusCodes[0]!])
  out.labelled('http_responses_by_code_total', 'counter', 'Responses by exact status code, every route together', codes)
  out.single('http_requests_in_flight', 'gauge', 'Requests being handled now', Math.max(0, requests.inFlight))
  if (requests.shed > 0) out.single('http_requests_shed_total', 'counter', 'Requests refused by load shedding (503), counted in no other series', requests.shed)
  out.single('http_requests_aborted_total', 'counter', 'Requests whose connection closed before their response was complete', requests.aborted)
  // Not a series that is always 0: without a connectionTimeout nothing can time out.
  if (requests.countsTimeouts) out.single('http_requests_timed_out_total', 'counter', 'Requests whose socket hit Fastify\'s connectionTimeout', requests.timedOut)
}

/** One series per status class an endpoint has answered with: `[labels without braces, its histogram]`. */
function collectSeries (endpoint: Endpoint, series: Array<[string, Histogram]>): void {
  let base: string | null = null
  for (let statusClass = 1; statusClass <= 5; statusClass++) {
    const histogram = endpoint.byClass[statusClass]
    if (histogram === undefined) continue
    base ??= `method="${escapeLabelValue(endpoint.method)}",route="${escapeLabelValue(endpoint.route)}"`
    series.push([`${base},status_class="${statusClass}xx"`, histogram])
  }
}

function writeProcess (out: Exposition, snapshot: SampledSnapshot, spaces: readonly HeapSpaceInfo[], gc: GcFigures | null): void {
  const usage = process.cpuUsage()
  out.single('process_cpu_user_seconds_total', 'counter', 'User CPU time of this process', usage.user / 1e6)
  out.single('process_cpu_system_seconds_total', 'counter', 'System CPU time of this process', usage.system / 1e6)
  out.single('process_cpu_seconds_total', 'counter', 'User and system CPU time of this process', (usage.user + usage.system) / 1e6)
  out.single('process_start_time_seconds', 'gauge', 'Start time of the process since the Unix epoch', PROCESS_START_SECONDS)
  const memory = snapshot.memory.process
  out.single('process_resident_memory_bytes', 'gauge', 'Resident set size', memory.rss)
  out.single('process_virtual_memory_bytes', 'gauge', 'Virtual memory size', memory.vms)
  out.single('process_threads', 'gauge', 'OS threads of this process', memory.numThreads)
  out.single('process_open_files', 'gauge', 'Open regular files (not sockets, pipes or devices)', memory.openFiles)
  out.single('process_open_sockets', 'gauge', 'Open sockets', memory.connections)
  out.single('process_open_fds', 'gauge', 'Open file descriptors', openFds())
  out.single('process_max_fds', 'gauge', 'Maximum number of open file descriptors', maxFds())
  // Not prom-client's nodejs_active_resources_total as well: a gauge ending in _total fails promtool's lint.
  out.labelled('nodejs_active_resources', 'gauge', 'Resources keeping the event loop alive, by type',
    [...countBy(process.getActiveResourcesInfo())].map(([type, count]) => [labels(['type', type]), count]))
  out.single('nodejs_heap_size_total_bytes', 'gauge', 'V8 heap size', memory.heapTotal)
  out.single('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap used', memory.heapUsed)
  out.single('nodejs_external_memory_bytes', 'gauge', 'Memory of C++ objects bound to JavaScript objects', memory.external)
  out.single('nodejs_array_buffers_bytes', 'gauge', 'Memory of ArrayBuffers and SharedArrayBuffers, Buffers included', memory.arrayBuffers)
  // All spaces: the snapshot keeps only the five largest, and series must not come and go.
  out.labelled('nodejs_heap_space_size_total_bytes', 'gauge', 'Size of each V8 heap space',
    spaces.map((space) => [labels(['space', spaceLabel(space.space_name)]), space.space_size]))
  out.labelled('nodejs_heap_space_size_used_bytes', 'gauge', 'Used size of each V8 heap space',
    spaces.map((space) => [labels(['space', spaceLabel(space.space_name)]), space.space_used_size]))
  out.labelled('nodejs_heap_space_size_available_bytes', 'gauge', 'Available size of each V8 heap space',
    spaces.map((space) => [labels(['space', spaceLabel(space.space_name)]), space.space_available_size]))
  const { delayMs, utilization } = snapshot.eventLoop
  out.single('nodejs_eventloop_lag_p50_seconds', 'gauge', 'Median event loop delay over the last sample interval', seconds(delayMs.p50))
  out.single('nodejs_eventloop_lag_p99_seconds', 'gauge', '99th percentile event loop delay over the last sample interval', seconds(delayMs.p99))
  out.single('nodejs_eventloop_lag_max_seconds', 'gauge', 'Largest event loop delay over the last sample interval', seconds(delayMs.max))
  out.single('nodejs_eventloop_utilization_ratio', 'gauge', 'Event loop utilization (0 to 1) over the last sample interval', utilization)
  if (gc !== null && gc.size > 0) {
    out.family('nodejs_gc_duration_seconds', 'histogram', 'Garbage collection pauses by kind (_count: collections, _sum: total pause)')
    for (const [kind, histogram] of gc) {
      out.histogram('nodejs_gc_duration_seconds', `kind="${kind}"`, histogram, GC_DURATION_BOUNDS, GC_BOUND_INDEXES)
    }
  }
}

/** prom-client's `space` label: the V8 space name without its `_space` suffix (`old`, `new`, `code`...). */
const spaceLabel = (name: string): string => name.endsWith('_space') ? name.slice(0, -6) : name

function countBy (values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1)
  return counts
}

/** Entries of /proc/self/fd, less the one this read opens (as prom-client counts); null without /proc. */
function openFds (): number | null {
  try {
    return readdirSync('/proc/self/fd').length - 1
  } catch {
    return null
  }
}

let maxFdsRead: number | null | undefined
/** The soft limit from /proc/self/limits, read once (as prom-client does); null without /proc. */
function maxFds (): number | null {
  if (maxFdsRead === undefined) {
    try {
      const match = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))
      maxFdsRead = match === null ? null : Number(match[1])
    } catch {
      maxFdsRead = null
    }
  }
  return maxFdsRead
}

function writeSystem (out: Exposition, snapshot: SampledSnapshot): void {
  const system = snapshot.memory.system
  out.single('system_memory_total_bytes', 'gauge', 'Total memory of the host', system.total)
  out.single('system_memory_available_bytes', 'gauge', 'Memory available to new processes without swapping', system.available)
  out.single('system_memory_used_bytes', 'gauge', 'Used memory of the host', system.used)
  out.single('system_memory_free_bytes', 'gauge', 'Unused memory of the host', system.free)
  out.single('system_memory_active_bytes', 'gauge', 'Recently used memory (Active in /proc/meminfo)', system.active)
  out.single('system_memory_inactive_bytes', 'gauge', 'Memory not recently used (Inactive in /proc/meminfo)', system.inactive)
  out.single('system_memory_buffers_bytes', 'gauge', 'Memory used by kernel buffers', system.buffers)
  out.single('system_memory_cached_bytes', 'gauge', 'Memory used by the page cache', system.cached)
  out.single('system_memory_shared_bytes', 'gauge', 'Shared memory (Shmem in /proc/meminfo)', system.shared)
  out.single('system_swap_total_bytes', 'gauge', 'Total swap', system.swap.total)
  out.single('system_swap_used_bytes', 'gauge', 'Used swap', system.swap.used)
  out.single('system_swap_free_bytes', 'gauge', 'Free swap', system.swap.free)
  out.single('system_swap_in_bytes_total', 'counter', 'Bytes swapped in since boot', system.swap.sin)
  out.single('system_swap_out_bytes_total', 'counter', 'Bytes swapped out since boot', system.swap.sout)
  const { cpu } = snapshot
  out.single('system_cpu_utilization_ratio', 'gauge', 'Host CPU utilization (0 to 1, all cores) over the last sample interval', ratio(cpu.systemPercent))
  out.single('system_cpu_cores', 'gauge', 'CPU cores available to this process', cpu.cores)
  out.single('system_load1', 'gauge', 'Host load average over 1 minute', cpu.loadAverage?.[0])
  out.single('system_load5', 'gauge', 'Host load average over 5 minutes', cpu.loadAverage?.[1])
  out.single('system_load15', 'gauge', 'Host load average over 15 minutes', cpu.loadAverage?.[2])
}

function writeMongo (out: Exposition, db: DatabaseSnapshot): void {
  if (db.status === 'not_configured') return
  out.single('mongodb_client_up', 'gauge', '1 when the last ping of the watched MongoClient answered, else 0', db.status === 'healthy' ? 1 : 0)
  out.single('mongodb_client_ping_seconds', 'gauge', 'Duration of the last ping', seconds(db.pingMs))
  const pool = db.pool
  if (pool !== undefined) {
    out.labelled('mongodb_client_pool_connections', 'gauge', 'Open pool connections, in use or available',
      [[labels(['state', 'in_use']), pool.inUse], [labels(['state', 'available']), pool.available]])
    out.single('mongodb_client_pool_checkouts_waiting', 'gauge', 'Connection check-outs waiting for a connection', pool.waiting)
    out.single('mongodb_client_pool_connections_created_total', 'counter', 'Pool connections created', pool.created)
    out.single('mongodb_client_pool_connections_closed_total', 'counter', 'Pool connections closed', pool.closed)
    out.single('mongodb_client_pool_checkouts_total', 'counter', 'Connection check-outs', pool.checkouts)
    out.single('mongodb_client_pool_checkout_failures_total', 'counter', 'Connection check-outs that failed', pool.checkoutFailures)
    out.single('mongodb_client_pool_cleared_total', 'counter', 'Times a pool was cleared', pool.cleared)
  }
  const commands = db.commands
  if (commands?.monitored === true) {
    const byName = Object.entries(commands.byName)
    if (byName.length > 0) {
      const name = 'mongodb_client_command_duration_seconds'
      out.family(name, 'summary', 'Command durations by command name since start (_count: commands, _sum: seconds)')
      for (const [command, stats] of byName) {
        const commandLabel = `command="${escapeLabelValue(command)}"`
        for (const [quantile, ms] of [['0.5', stats.p50], ['0.95', stats.p95], ['0.99', stats.p99]] as const) {
          if (ms !== null) out.sample(name, `{${commandLabel},quantile="${quantile}"}`, msToSeconds(ms))
        }
        out.sample(`${name}_sum`, `{${commandLabel}}`, msToSeconds(stats.totalMs))
        out.sample(`${name}_count`, `{${commandLabel}}`, stats.count)
      }
      out.labelled('mongodb_client_command_failures_total', 'counter', 'Commands that failed, by command name',
        byName.map(([command, stats]) => [labels(['command', command]), stats.failures]))
    }
  }
  const status = db.serverStatus
  if (status?.available === true) {
    out.labelled('mongodb_server_connections', 'gauge', 'Connections of the MongoDB server (serverStatus, every client together)', [
      [labels(['state', 'current']), status.connections?.current], [labels(['state', 'available']), status.connections?.available]
    ])
    out.single('mongodb_server_connections_created_total', 'counter', 'Connections the MongoDB server has accepted (serverStatus)', status.connections?.totalCreated)
    const ops = status.opcounters
    out.labelled('mongodb_server_opcounters_total', 'counter', 'Operations the MongoDB server has run, by type (serverStatus, every client together)',
      ops === null ? [] : Object.entries(ops).map(([op, count]) => [labels(['op', op]), count]))
    out.single('mongodb_server_resident_memory_bytes', 'gauge', 'Resident memory of the MongoDB server (serverStatus)', status.residentMemory)
    out.single('mongodb_server_uptime_seconds', 'gauge', 'Uptime of the MongoDB server (serverStatus)', status.uptimeSeconds)
  }
}
