// A dashboard stream whose client never reads: the server's memory over time.
//
//   node benchmark/slow-reader.js        (BENCH_SLOW_SECONDS, default 60; BENCH_SLOW_ROUTES, default 150;
//                                         BENCH_SAMPLE_INTERVAL_MS, default 100 here)
//
// One server-watch server with that many extra routes, each requested once so that every one is in the
// snapshot's endpoint table, sampling every 100 ms. A raw TCP client asks for the event stream and then never
// reads, so the kernel's socket buffers fill and everything after that waits in the server. The server's RSS,
// heap and external memory (after forced GC) are printed every 5 s.
import net from 'node:net'
import { envNumber, isMain, log, mb, pluginBuilt, sleep, startServer } from './common.js'

export async function runSlowReader ({
  seconds = envNumber('BENCH_SLOW_SECONDS', 60),
  routes = envNumber('BENCH_SLOW_ROUTES', 150),
  sampleIntervalMs = envNumber('BENCH_SAMPLE_INTERVAL_MS', 100)
} = {}) {
  if (!pluginBuilt()) throw new Error('dist/plugin.js not found: run `npm run build` first')
  process.env.BENCH_SAMPLE_INTERVAL_MS = String(sampleIntervalMs)
  const server = await startServer('server-watch', { extraRoutes: routes, nodeArgs: ['--expose-gc'] })
  let socket = null
  try {
    for (let k = 0; k < routes; k++) await fetch(`${server.url}/items${k}/1`).then((r) => r.arrayBuffer())
    const frame = await fetch(`${server.url}/dashboard/api/snapshot`).then((r) => r.text())
    log(`${routes} routes: a snapshot is ${frame.length} bytes; sampling every ${sampleIntervalMs} ms`)
    await sleep(1000)
    const rows = [{ s: 0, ...(await server.call('gc')) }]
    socket = net.connect(server.port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write(`GET /dashboard/api/stream HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\naccept: text/event-stream\r\n\r\n`)
    // Never read: paused, the socket leaves everything in the kernel's receive buffer.
    socket.pause()
    for (let s = 5; s <= seconds; s += 5) {
      await sleep(5000)
      rows.push({ s, ...(await server.call('gc')) })
    }
    for (const row of rows) {
      log(`${String(row.s).padStart(3)} s  rss ${mb(row.rss).padStart(7)} MB  heapUsed ${mb(row.heapUsed).padStart(6)} MB  external ${mb(row.external).padStart(6)} MB  arrayBuffers ${mb(row.arrayBuffers).padStart(6)} MB`)
    }
    return { routes, sampleIntervalMs, snapshotBytes: frame.length, rows }
  } finally {
    socket?.destroy()
    await server.stop()
  }
}

if (isMain(import.meta.url)) {
  console.log(JSON.stringify(await runSlowReader(), null, 2))
}
