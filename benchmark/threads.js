// Which threads carry a variant's CPU (issue 31, "nextTick's maps" in README.md): bare Fastify and the variant serving
// at the same time, each at a fixed rate from its own load generator, and each process's CPU per request by thread
// from /proc/<pid>/task (10 ms ticks): the main thread, and the others by name (V8's helpers are `V8 DefaultWorke`;
// a libuv that does not name its pool leaves those threads under the process's name, `node`).
//
//   npm run build && node benchmark/threads.js                        (server-watch, 5,000 req/s, 20 s)
//   BENCH_PAIR_RATE=10000 node benchmark/threads.js 'hooks:timed onRequest and onSend'
import { readdirSync, readFileSync } from 'node:fs'
import { CLOCK_TICK_US, envNumber, isMain, procStatFields, runLoad, startServer } from './common.js'

/** Clock ticks (user + system) by thread: `main`, or another thread's name without its trailing digits (a pool is one). */
function ticksByThread (pid) {
  const ticks = new Map()
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let fields, name
    try {
      fields = procStatFields(`/proc/${pid}/task/${tid}/stat`)
      name = Number(tid) === pid ? 'main' : readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim().replace(/\d+$/, '')
    } catch {
      continue // the thread ended meanwhile
    }
    ticks.set(name, (ticks.get(name) ?? 0) + Number(fields[11]) + Number(fields[12]))
  }
  return ticks
}

export async function threadCpu (variant, { rate = 5000, seconds = 20 } = {}) {
  const servers = [await startServer('bare'), await startServer(variant)]
  try {
    const load = (server, duration) => runLoad({ kind: 'fixed', url: server.url, path: '/', connections: 25, duration, overallRate: rate })
    await Promise.all(servers.map((server) => load(server, 3)))
    const before = servers.map((server) => ticksByThread(server.pid))
    const results = await Promise.all(servers.map((server) => load(server, seconds)))
    const after = servers.map((server) => ticksByThread(server.pid))
    return servers.map((server, i) => ({
      variant: server.variant,
      requests: results[i].requests,
      usPerRequest: Object.fromEntries([...after[i]].map(([name, t]) => [name, (t - (before[i].get(name) ?? 0)) * CLOCK_TICK_US / results[i].requests]))
    }))
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
  }
}

if (isMain(import.meta.url)) {
  const variant = process.argv[2] ?? 'server-watch'
  const figures = await threadCpu(variant, { rate: envNumber('BENCH_PAIR_RATE', 5000), seconds: envNumber('BENCH_THREADS_SECONDS', 20) })
  for (const { variant: name, requests, usPerRequest } of figures) {
    console.log(`${name}: ${requests} requests; µs a request by thread: ` +
      Object.entries(usPerRequest).filter(([, us]) => us > 0).map(([thread, us]) => `${thread} ${us.toFixed(2)}`).join(', '))
  }
}
