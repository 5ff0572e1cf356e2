// What a timer that wakes an idle process costs: one Node process per mode, all idle side by side for 15 s, each
// reporting its own CPU. Modes: none (nothing but a timer far off), js50 (a setInterval every 50 ms that records
// its lateness into a histogram, as lib/collectors/event-loop.ts did before issue 16), js250 (the same every
// 250 ms), eld50 (`monitorEventLoopDelay` at 50 ms: the timer in C++).
//
//   node benchmark/wakeups.js
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createHistogram, monitorEventLoopDelay } from 'node:perf_hooks'

const MODES = ['none', 'js50', 'js250', 'eld50']
const SECONDS = Number(process.env.BENCH_WAKEUP_SECONDS ?? 15)

if (process.argv[2] === '--mode') {
  const mode = process.argv[3]
  const histogram = createHistogram()
  const every = (ms) => {
    let last = performance.now()
    setInterval(() => {
      const now = performance.now()
      histogram.record(Math.max(1, Math.round((now - last - ms) * 1e6)))
      last = now
    }, ms)
  }
  if (mode === 'js50') every(50)
  if (mode === 'js250') every(250)
  if (mode === 'eld50') monitorEventLoopDelay({ resolution: 50 }).enable()
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const before = process.cpuUsage()
  const started = performance.now()
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000))
  const { user, system } = process.cpuUsage(before)
  process.send({ mode, cpuMs: (user + system) / 1000, percentOfCore: (user + system) / 1000 / (performance.now() - started) * 100 })
  process.exit(0)
} else {
  const results = await Promise.all(MODES.map((mode) => new Promise((resolve) => {
    fork(fileURLToPath(import.meta.url), ['--mode', mode]).once('message', resolve)
  })))
  for (const r of results) console.log(`${r.mode.padEnd(6)} ${r.cpuMs.toFixed(1).padStart(6)} ms CPU in ${SECONDS} s = ${r.percentOfCore.toFixed(3)} % of a core`)
}
