// The error groups' memory under errors that never repeat (issue 28): 100,000 distinct messages without a stack,
// then 1,000 distinct stacks, recorded into one store of maxErrorGroups = 100; the heap after a full GC after each
// phase, and the time per record. The store must stay flat: at most 100 groups, a bounded fingerprint cache.
//
//   npm run build && node --expose-gc benchmark/error-groups.js        (a few seconds)
import { ErrorGroupStore } from '../dist/error-groups/store.js'

if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc benchmark/error-groups.js')
  process.exit(1)
}

const T0 = Date.UTC(2026, 11, 6, 12)
const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet']
/** A message no normalisation folds into another: words, not digits. */
const wordy = (i) => String(i).split('').map((d) => words[Number(d)]).join('-')

function heapAfterGc () {
  for (let i = 0; i < 3; i++) globalThis.gc()
  return process.memoryUsage().heapUsed
}

/** Route keys exist before a request (the request store's endpoints): not built in the timed part. */
const ROUTES = Array.from({ length: 30 }, (_, i) => `GET /r${i}`)
const store = new ErrorGroupStore({ maxGroups: 100, release: 'bench', root: '/srv/app' })
const rows = []
/** `n` records of `distinct` errors in turn: up to 1,000 are built before the phase, more as it goes. */
function phase (name, n, distinct, make) {
  const errors = distinct <= 1000 ? Array.from({ length: distinct }, (_, i) => make(i)) : null
  const before = heapAfterGc()
  let ns = 0
  for (let i = 0; i < n; i++) {
    // Building an Error (its stack) costs more than recording it: only the record is timed.
    const error = errors === null ? make(i) : errors[i % distinct]
    const start = process.hrtime.bigint()
    store.record(error, ROUTES[i % ROUTES.length], 500, T0 + i)
    ns += Number(process.hrtime.bigint() - start)
  }
  ns /= n
  const after = heapAfterGc()
  rows.push({ name, n, groups: store.size, evicted: store.evicted, heapMB: after / 1e6, deltaKB: (after - before) / 1e3, usPerRecord: ns / 1e3 })
}

function withoutStack (message) {
  const error = new Error(message)
  error.stack = undefined
  return error
}
function withStack (i) {
  const error = new Error('boom')
  error.stack = `Error: boom\n    at handler${i} (/srv/app/routes/r${i}.js:10:5)\n    at preHandlerCallback (/srv/app/node_modules/fastify/lib/handle-request.js:155:5)`
  return error
}

phase('warm-up: one error, 10,000 times', 10_000, 1, () => withStack(-1))
const start = heapAfterGc()
phase('100,000 messages that differ only in ids', 100_000, 100_000, (i) => withoutStack(`user ${i} not found (request ${i.toString(16).padStart(12, '0')})`))
phase('100,000 distinct messages', 100_000, 100_000, (i) => withoutStack(`cannot reach ${wordy(i)}`))
phase('1,000 distinct stacks', 1000, 1000, withStack)
phase('1,000 distinct stacks, 100 times each (in turn: each a new group again)', 100_000, 1000, (i) => withStack(i + 5000))
phase('100 distinct stacks, 1,000 times each (in turn: found in the cache)', 100_000, 100, (i) => withStack(i + 9000))
const end = heapAfterGc()

console.log('| phase | records | groups | evicted | heap after GC (MB) | heap change (kB) | µs per record |')
console.log('| --- | --- | --- | --- | --- | --- | --- |')
for (const row of rows) {
  console.log(`| ${row.name} | ${row.n.toLocaleString('en')} | ${row.groups} | ${row.evicted} | ${row.heapMB.toFixed(2)} | ${row.deltaKB.toFixed(0)} | ${row.usPerRecord.toFixed(2)} |`)
}
console.log(`\nheap after GC from the end of the warm-up to the end: ${((end - start) / 1e3).toFixed(0)} kB (node ${process.version})`)
