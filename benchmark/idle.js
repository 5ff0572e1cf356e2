// Idle cost: the CPU an idle server uses, with and without the plugin (and the peers), over
// `idleS` seconds at the default sampling interval. All the servers idle side by side over the
// same window; the CPU includes any child process a collector spawned and reaped. The sampling
// loop's cost is server-watch's figure less bare Fastify's.
import { benchConfig, cpuDelta, isMain, log, selectedVariants, sleep, startServer, VARIANTS } from './common.js'

export async function runIdle (cfg = benchConfig()) {
  const variants = selectedVariants(VARIANTS)
  const servers = []
  try {
    for (const variant of variants) servers.push(await startServer(variant))
    // Start-up work (first samples, lazy compilation, V8's memory reducer) is not the steady state being measured.
    await sleep(cfg.idleSettleS * 1000)
    const before = await Promise.all(servers.map((s) => s.call('cpu')))
    await sleep(cfg.idleS * 1000)
    const after = await Promise.all(servers.map((s) => s.call('cpu')))
    const results = {}
    servers.forEach((server, i) => {
      const { cpuUs, wallUs } = cpuDelta(before[i], after[i])
      results[server.variant] = {
        cpuMs: cpuUs / 1000,
        childrenMs: (after[i].children - before[i].children) / 1000,
        percentOfCore: cpuUs / wallUs * 100
      }
    })
    for (const [variant, r] of Object.entries(results)) {
      log(`idle ${variant.padEnd(15)} ${r.cpuMs.toFixed(1)} ms CPU in ${cfg.idleS} s = ${r.percentOfCore.toFixed(3)} % of a core`)
    }
    return { seconds: cfg.idleS, results }
  } finally {
    await Promise.all(servers.map((s) => s.stop()))
  }
}

if (isMain(import.meta.url)) {
  console.log(JSON.stringify(await runIdle(), null, 2))
}
