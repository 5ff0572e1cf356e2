// Many idle connections: the event loop's worst stall, bare Fastify and server-watch in the same run.
//
//   node benchmark/sockets.js     (BENCH_SOCKET_COUNTS, default 1000,5000,15000; BENCH_SOCKET_SECONDS, default 10)
//
// For each count, a fresh bare Fastify and a fresh server-watch server (fresh ports, so that no TIME_WAIT of an
// earlier count is in the way); which goes first alternates between counts. For each server in turn (the other
// paused with SIGSTOP): open that many TCP connections that send nothing, let them settle 2 s, then read the
// server's event-loop delay (monitorEventLoopDelay, 1 ms resolution) over the window, and close them. The
// server-watch server samples every second (the default), so each second of the window holds one sample: the
// median over the seconds of each second's worst delay shows a stall that comes with every sample, and leaves
// out a preemption by another process on a shared machine, which the overall max does not.
import net from 'node:net'
import { envNumber, fmt, isMain, log, selectedVariants, sleep, startServer } from './common.js'

const BATCH = 500

async function openSockets (port, count) {
  const sockets = []
  for (let i = 0; i < count; i += BATCH) {
    const batch = []
    for (let j = i; j < Math.min(count, i + BATCH); j++) {
      batch.push(new Promise((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1')
        socket.once('connect', () => resolve(socket))
        socket.once('error', reject)
      }))
    }
    sockets.push(...await Promise.all(batch))
  }
  return sockets
}

export async function runSockets ({
  counts = (process.env.BENCH_SOCKET_COUNTS ?? '1000,5000,15000').split(',').map(Number),
  seconds = envNumber('BENCH_SOCKET_SECONDS', 10)
} = {}) {
  const variants = selectedVariants(['bare', 'server-watch'], 'BENCH_SOCKET_VARIANTS')
  const results = []
  for (const [round, count] of counts.entries()) {
    const order = round % 2 === 0 ? variants : [...variants].reverse()
    const servers = []
    try {
      for (const variant of order) servers.push(await startServer(variant))
      for (const server of servers) {
        for (const other of servers) if (other !== server) other.pause()
        await server.resume()
        const sockets = await openSockets(server.port, count)
        await sleep(2000)
        await server.call('loopDelayStart')
        await sleep(seconds * 1000)
        const delay = await server.call('loopDelayStop')
        for (const socket of sockets) socket.destroy()
        results.push({ count, variant: server.variant, ...delay })
        log(`${String(count).padStart(6)} sockets  ${server.variant.padEnd(13)} max ${fmt(delay.maxMs).padStart(7)} ms  median of each second's max ${fmt(delay.medianSecondMaxMs).padStart(7)} ms`)
        await sleep(500)
      }
    } finally {
      for (const server of servers) await server.resume()
      await Promise.all(servers.map((s) => s.stop()))
    }
  }
  return { seconds, results }
}

if (isMain(import.meta.url)) {
  console.log(JSON.stringify(await runSockets(), null, 2))
}
