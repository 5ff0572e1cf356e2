// What a heap snapshot costs the process (issue 26.10): for heaps of a few sizes, the peak resident memory on top
// of what the process held before, the file's size and the pause, taken through the plugin's own capture path
// (dist/profiles/heap.js: an in-process inspector session whose chunks go to an unlinked temporary file).
//
//   npm run build && node benchmark/heap-snapshot.js            # heaps of about 50 and 200 MB
//   HEAP_SIZES_MB=50,200,400 node benchmark/heap-snapshot.js    # other sizes
//
// Each size runs in a fresh child process (so one capture's peak does not hide the next): it fills the heap with
// small objects and strings (a web app's kind of heap: many small nodes, which is what a snapshot's size and cost
// follow), collects garbage, resets the kernel's peak RSS (writing 5 to /proc/self/clear_refs), takes the
// snapshot, and reads the peak (VmHWM in /proc/self/status). Linux only.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const MB = 1024 * 1024

function statusField (name) {
  const line = readFileSync('/proc/self/status', 'utf8').split('\n').find((text) => text.startsWith(`${name}:`))
  return Number(line.split(/\s+/)[1]) * 1024
}

async function child (targetMb, how) {
  const { takeHeapSnapshot } = await import('../dist/profiles/heap.js')
  const { writeHeapSnapshot } = await import('node:v8')
  const { statSync, unlinkSync } = await import('node:fs')
  const { tmpdir } = await import('node:os')
  const { join } = await import('node:path')
  const kept = []
  // About 150 bytes of heap per entry: an object, its string and its slot in an array.
  while (process.memoryUsage().heapUsed < targetMb * MB) {
    const batch = []
    for (let i = 0; i < 10_000; i++) batch.push({ id: i, name: `user-${kept.length}-${i}`, tags: [i & 7] })
    kept.push(batch)
  }
  globalThis.gc()
  const heapUsed = process.memoryUsage().heapUsed
  const rssBefore = process.memoryUsage.rss()
  writeFileSync('/proc/self/clear_refs', '5')
  const cpuBefore = process.cpuUsage()
  const started = performance.now()
  let bytes
  if (how === 'v8') {
    const path = writeHeapSnapshot(join(tmpdir(), `bench-${process.pid}.heapsnapshot`))
    bytes = statSync(path).size
    unlinkSync(path)
  } else {
    const snapshot = takeHeapSnapshot(8 * 1024 * MB)
    bytes = snapshot.bytes
    snapshot.stream.destroy()
  }
  const pauseMs = performance.now() - started
  const cpu = process.cpuUsage(cpuBefore)
  const peak = statusField('VmHWM')
  globalThis.gc()
  const rssAfter = process.memoryUsage.rss()
  process.stdout.write(JSON.stringify({
    how,
    heapUsedMb: Math.round(heapUsed / MB),
    rssBeforeMb: Math.round(rssBefore / MB),
    peakRssMb: Math.round(peak / MB),
    extraPeakMb: Math.round((peak - rssBefore) / MB),
    factor: Number(((peak - rssBefore) / heapUsed).toFixed(2)),
    fileMb: Math.round(bytes / MB),
    pauseMs: Math.round(pauseMs),
    pauseMsPer100Mb: Math.round(pauseMs / (heapUsed / MB) * 100),
    // The pause's CPU time: what it costs on an idle core (the wall time above grows with the machine's load).
    cpuMs: Math.round((cpu.user + cpu.system) / 1000),
    cpuMsPer100Mb: Math.round((cpu.user + cpu.system) / 1000 / (heapUsed / MB) * 100),
    rssAfterMb: Math.round(rssAfter / MB),
    kept: kept.length
  }) + '\n')
}

if (process.argv[2] === '--child') {
  await child(Number(process.argv[3]), process.argv[4])
} else {
  const sizes = (process.env.HEAP_SIZES_MB ?? '50,200').split(',').map(Number)
  // plugin: the capture path of lib/profiles/heap.ts; v8: v8.writeHeapSnapshot() straight to a file, for comparison.
  const ways = (process.env.HEAP_SNAPSHOT_WAYS ?? 'plugin').split(',')
  const results = []
  for (const size of sizes) {
    for (const how of ways) {
      const out = execFileSync(process.execPath, ['--expose-gc', '--max-old-space-size=8192', fileURLToPath(import.meta.url), '--child', String(size), how], { encoding: 'utf8' })
      const result = JSON.parse(out)
      results.push(result)
      console.log(JSON.stringify(result))
    }
  }
  console.log(`largest factor: ${Math.max(...results.map((result) => result.factor))} (extra peak RSS / heap used)`)
}
