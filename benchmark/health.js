// /health under load: its latency while the app serves GET / at full speed, against the latency of
// GET / itself measured the same way.
//
// One server-watch server. autocannon saturates GET / from one process; a second process (the
// probe) sends one request at a time, every `healthIntervalMs`, over one keep-alive connection, to
// /health or to / (alternating between rounds), and times each with hrtime. Both compete for the
// same event loop, so the difference in p99 is what a /health caller pays over an ordinary request.
// The same probes are also run with no load, for the bare cost of building the snapshot.
import { benchConfig, isMain, log, median, pluginBuilt, runLoad, sleep, startServer } from './common.js'

const PATHS = ['/health', '/']

async function probeUnderLoad (server, path, cfg) {
  const load = runLoad({ kind: 'fixed', url: server.url, path: '/', connections: cfg.connections, duration: cfg.healthS })
  await sleep(1000) // let autocannon reach full speed first
  const probe = await runLoad({ kind: 'probe', url: server.url, path, intervalMs: cfg.healthIntervalMs, duration: cfg.healthS - 2 })
  return { probe, load: await load }
}

export async function runHealth (cfg = benchConfig()) {
  if (!pluginBuilt()) {
    log('! dist/plugin.js not found: skipping /health under load')
    return null
  }
  const server = await startServer('server-watch')
  try {
    await runLoad({ kind: 'fixed', url: server.url, path: '/', connections: cfg.connections, duration: cfg.warmupS })
    const unloaded = {}
    for (const path of PATHS) {
      unloaded[path] = (await runLoad({ kind: 'probe', url: server.url, path, intervalMs: cfg.healthIntervalMs, duration: 3 })).latencyMs
    }
    const rounds = []
    for (let r = 0; r < cfg.healthRounds; r++) {
      const round = {}
      for (const path of r % 2 === 0 ? PATHS : [...PATHS].reverse()) {
        const { probe, load } = await probeUnderLoad(server, path, cfg)
        round[path] = { ...probe.latencyMs, probes: probe.requests, failures: probe.failures, loadReqPerSec: load.reqPerSec }
        log(`health round ${r + 1}/${cfg.healthRounds} probe ${path.padEnd(8)} p50 ${probe.latencyMs.p50.toFixed(2)} ms,` +
          ` p99 ${probe.latencyMs.p99.toFixed(2)} ms (${probe.requests} probes, load ${Math.round(load.reqPerSec)} req/s)`)
      }
      rounds.push(round)
    }
    const summary = {}
    for (const path of PATHS) {
      summary[path] = {
        p50: median(rounds.map((r) => r[path].p50)),
        p99: median(rounds.map((r) => r[path].p99)),
        max: median(rounds.map((r) => r[path].max))
      }
    }
    summary.p99DifferenceMs = median(rounds.map((r) => r['/health'].p99 - r['/'].p99))
    return { unloaded, rounds, summary }
  } finally {
    await server.stop()
  }
}

if (isMain(import.meta.url)) {
  console.log(JSON.stringify(await runHealth(), null, 2))
}
