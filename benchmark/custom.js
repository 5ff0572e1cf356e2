// What a custom metric record costs: nanoseconds per call, and the young-generation collections during the loop
// (none means the call allocates nothing), for each kind with and without labels, in a tight loop after a warm-up.
// Not part of `npm run bench`.
//
//   npm run build && node benchmark/custom.js
import { PerformanceObserver, constants } from 'node:perf_hooks'
import { CustomMetrics } from '../dist/custom/registry.js'

const CALLS = 5_000_000
const custom = new CustomMetrics({ warn () {} })
const counter = custom.counter('plain_total')
const labelled = custom.counter('labelled_total', { labelNames: ['method'] })
const twoLabels = custom.counter('two_labels_total', { labelNames: ['method', 'region'] })
const gauge = custom.gauge('queue_length')
const histogram = custom.histogram('job_seconds')
const labelledHistogram = custom.histogram('labelled_seconds', { labelNames: ['provider'] })
const card = { method: 'card' }
const cardEu = { method: 'card', region: 'eu' }
const stripe = { provider: 'stripe' }

const cases = {
  'counter.inc()': () => counter.inc(),
  'counter.inc(1, { method })': () => labelled.inc(1, card),
  'counter.inc(1, { method, region })': () => twoLabels.inc(1, cardEu),
  'gauge.set(v)': (i) => gauge.set(i),
  'histogram.observe(ms)': (i) => histogram.observe((i & 1023) / 10),
  'histogram.observe(ms, { provider })': (i) => labelledHistogram.observe((i & 1023) / 10, stripe)
}

let scavenges = 0
const observer = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges++
})
observer.observe({ entryTypes: ['gc'] })
const settle = () => new Promise((resolve) => setTimeout(resolve, 50))

console.log(`| call | ns per call | young-generation GCs over ${CALLS.toLocaleString('en')} calls |\n| --- | --- | --- |`)
for (const [name, record] of Object.entries(cases)) {
  for (let i = 0; i < 100_000; i++) record(i)
  await settle()
  const before = scavenges
  const start = process.hrtime.bigint()
  for (let i = 0; i < CALLS; i++) record(i)
  const ns = Number(process.hrtime.bigint() - start) / CALLS
  await settle()
  console.log(`| \`${name}\` | ${ns.toFixed(1)} | ${scavenges - before} |`)
}
observer.disconnect()
