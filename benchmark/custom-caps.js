// The event loop's delay with custom metrics at their caps (issue 26.9), against none: 1,000 metrics (the
// maxCustomMetrics default) of which 10 histograms hold every series of maxCustomSeries (2,000 by default), every
// series recorded into between two samples (the worst case: nothing cached), /metrics and /health read after
// every sample by curl (another process, so that the client's parsing is not counted). Each variant runs in its
// own process for DURATION_MS with sampleIntervalMs 1000.
// Not part of `npm run bench`.
//
//   npm run build && node benchmark/custom-caps.js            # the default caps
//   SERIES=10000 node benchmark/custom-caps.js                 # maxCustomSeries raised to 10,000
import { execFile, fork } from 'node:child_process'
import { promisify } from 'node:util'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import Fastify from 'fastify'
import serverWatch from '../dist/plugin.js'

const DURATION_MS = Number(process.env.DURATION_MS ?? 15_000)
const HISTOGRAMS = 10
// The series of each histogram: 10 x 200 fill the maxCustomSeries default (2,000); SERIES=10000 the raised cap.
const TOTAL_SERIES = Number(process.env.SERIES ?? 2000)
const run$ = promisify(execFile)

/** `curl` for a URL: its size in bytes and its time in ms. */
async function scrape (url) {
  const { stdout } = await run$('curl', ['-s', '-o', '/dev/null', '-w', '%{size_download} %{time_total}', url])
  const [bytes, seconds] = stdout.split(' ').map(Number)
  return { bytes, ms: seconds * 1000 }
}
const SERIES_EACH = TOTAL_SERIES / HISTOGRAMS

async function run (variant) {
  const app = Fastify()
  await app.register(serverWatch, { sampleIntervalMs: 1000, maxCustomSeries: TOTAL_SERIES })
  const base = await app.listen({ host: '127.0.0.1', port: 0 })
  const record = []
  if (variant === 'caps') {
    for (let h = 0; h < HISTOGRAMS; h++) {
      const histogram = app.serverWatch.histogram(`job_${h}_seconds`, { labelNames: ['tenant'], maxSeries: SERIES_EACH })
      const labels = Array.from({ length: SERIES_EACH }, (_, i) => ({ tenant: `t${i}` }))
      record.push(() => { for (const set of labels) histogram.observe(Math.random() * 100, set) })
    }
    for (let i = 0; i < 1000 - HISTOGRAMS; i++) {
      const counter = app.serverWatch.counter(`plain_${i}_total`)
      record.push(() => counter.inc())
    }
  }
  const delay = monitorEventLoopDelay({ resolution: 1 })
  let metricsBytes = 0
  let healthBytes = 0
  let slowestScrapeMs = 0
  const end = Date.now() + DURATION_MS
  delay.enable()
  while (Date.now() < end) {
    // Every series recorded into, one metric per turn of the loop (what an app spreading its records looks like).
    for (const write of record) {
      write()
      await new Promise((resolve) => setImmediate(resolve))
    }
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const [metrics, health] = await Promise.all([process.env.ONLY === 'health' ? { bytes: 0, ms: 0 } : scrape(`${base}/metrics`), process.env.ONLY === 'metrics' ? { bytes: 0, ms: 0 } : scrape(`${base}/health`)])
    metricsBytes = metrics.bytes
    healthBytes = health.bytes
    slowestScrapeMs = Math.max(slowestScrapeMs, metrics.ms, health.ms)
  }
  delay.disable()
  const ms = (ns) => Math.round(ns / 1e4) / 100
  await app.close()
  return {
    variant,
    loopDelayMaxMs: ms(delay.max),
    loopDelayP99Ms: ms(delay.percentile(99)),
    metricsMB: Math.round(metricsBytes / 1e4) / 100,
    healthMB: Math.round(healthBytes / 1e4) / 100,
    slowestScrapeMs: Math.round(slowestScrapeMs)
  }
}

if (process.argv[2] !== undefined) {
  const result = await run(process.argv[2])
  if (process.send === undefined) console.log(result)
  else process.send(result)
} else {
  const results = []
  for (const variant of ['none', 'caps']) {
    const child = fork(new URL(import.meta.url), [variant])
    results.push(await new Promise((resolve, reject) => { child.once('message', resolve); child.once('error', reject) }))
    await new Promise((resolve) => child.once('exit', resolve))
  }
  console.log('| custom metrics | loop delay max | loop delay p99 | /metrics | /health | slowest answer to curl (/metrics or /health) |\n| --- | --- | --- | --- | --- | --- |')
  for (const r of results) {
    console.log(`| ${r.variant} | ${r.loopDelayMaxMs} ms | ${r.loopDelayP99Ms} ms | ${r.metricsMB} MB | ${r.healthMB} MB | ${r.slowestScrapeMs} ms |`)
  }
}
