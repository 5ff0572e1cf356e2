// Shared mode's cost per sample (issue 18), at 4 and 16 processes with 200 routes each: one process's write of its
// state file (quiet: no route changed since the last write; busy: every route did), its whole sampling step (scan
// the directory, read every file's first line, fold, write its own, sum the totals), and the merge of the routes
// (parse every file's routes line), which only a reader of the routes pays, once per sample. Event-loop time is the
// wall time of each synchronous step: it is all synchronous file I/O and JSON.
//   npm run build && node benchmark/shared.js            (BENCH_SHARED_DIR=/dev/shm/x to measure on tmpfs)
// Prints JSON: per process count, median and p95 ms of the write and of the full step, and the file size.
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Histogram, bucketIndex } from '../dist/histogram.js'
import { SharedStore } from '../dist/shared/store.js'
import { Tally } from '../dist/shared/tally.js'

const ROUTES = 200
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 200)
const GAUGES = { inFlight: 3, requestsPerSecond: 850.5, rss: 90e6, heapUsed: 30e6, heapTotal: 50e6, external: 2e6, cpuProcessPercent: 35.2, eventLoopDelayP99Ms: 11.3, eventLoopUtilization: 0.41 }

/**
 * 200 routes that each answered 2,000 requests, a few 4xx and 5xx. `wide`: durations from 0.2 to 80 ms, about 300
 * non-empty buckets a route (a worst case); `typical`: most within a few ms of 2 ms, about 40 a route.
 */
function busyCounts (seed, spread) {
  const counts = new Tally()
  let x = seed
  const random = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648)
  for (let route = 0; route < ROUTES; route++) {
    const method = route % 5 === 0 ? 'POST' : 'GET'
    const path = `/api/resource${route}/:id`
    const endpoint = counts.endpoint(method, path, `${method} ${path}`)
    for (let i = 0; i < 2000; i++) {
      const ms = spread === 'wide' ? 0.2 + random() ** 3 * 80 : 1 + random() * 2 + (random() < 0.05 ? random() * 20 : 0)
      const status = i % 97 === 0 ? 500 : i % 31 === 0 ? 404 : 200
      const statusClass = Math.floor(status / 100)
      const index = bucketIndex(ms)
      counts.total++
      counts.histogram.recordAt(index, ms)
      counts.statusCodes[status]++
      endpoint.count++
      if (statusClass === 5) { counts.errorCount++; endpoint.errorCount++ }
      ;(endpoint.byClass[statusClass] ??= new Histogram()).recordAt(index, ms)
    }
  }
  return counts
}

const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
const round = (value) => Math.round(value * 1000) / 1000

/** One more request on every route: the worst case for the write, where no route's text can be reused. */
function touchEveryRoute (counts) {
  for (const endpoint of counts.allEndpoints()) {
    const index = bucketIndex(2)
    counts.total++
    counts.histogram.recordAt(index, 2)
    counts.statusCodes[200]++
    endpoint.count++
    endpoint.byClass[2].recordAt(index, 2)
  }
}

function measure (processes, spread) {
  const dir = mkdtempSync(join(process.env.BENCH_SHARED_DIR ?? tmpdir(), 'sw-bench-'))
  try {
    const stores = []
    for (let i = 0; i < processes; i++) {
      const counts = busyCounts(i + 1, spread)
      const store = new SharedStore({ dir, app: 'bench', sampleIntervalMs: 1000, maxRoutes: ROUTES, maxRecentErrors: 10, log: { warn () {} }, pid: 10_000 + i, pidAlive: () => true })
      const local = { counts, status: 'healthy', gauges: GAUGES, recentErrors: [], p95Ms: counts.histogram.percentile(0.95) }
      stores.push({ store, local })
      store.sample(local)
    }
    const [{ store, local }] = stores
    const writes = []
    const busyWrites = []
    const merges = []
    const steps = []
    for (let round = 0; round < ROUNDS; round++) {
      let start = performance.now()
      store.flush(local)
      writes.push(performance.now() - start)
      touchEveryRoute(local.counts)
      start = performance.now()
      store.flush(local)
      busyWrites.push(performance.now() - start)
      start = performance.now()
      store.sample(local)
      steps.push(performance.now() - start)
      start = performance.now()
      store.last().routes()
      merges.push(performance.now() - start)
    }
    writes.sort((a, b) => a - b)
    busyWrites.sort((a, b) => a - b)
    steps.sort((a, b) => a - b)
    merges.sort((a, b) => a - b)
    const file = readdirSync(dir).find((name) => name.startsWith('bench~p~'))
    return {
      spread,
      processes,
      routes: ROUTES,
      fileBytes: statSync(join(dir, file)).size,
      quietWriteMs: { median: round(quantile(writes, 0.5)), p95: round(quantile(writes, 0.95)) },
      busyWriteMs: { median: round(quantile(busyWrites, 0.5)), p95: round(quantile(busyWrites, 0.95)) },
      sampleStepMs: { median: round(quantile(steps, 0.5)), p95: round(quantile(steps, 0.95)) },
      routesMergeMs: { median: round(quantile(merges, 0.5)), p95: round(quantile(merges, 0.95)) }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const results = ['typical', 'wide'].flatMap((spread) => [4, 16].map((processes) => measure(processes, spread)))
console.log(JSON.stringify({ node: process.version, dir: process.env.BENCH_SHARED_DIR ?? tmpdir(), rounds: ROUNDS, results }, null, 2))
