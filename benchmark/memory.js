// Memory under distinct URLs: does the heap grow with the number of distinct paths?
//
// The server (node --expose-gc) registers GET /, GET /users/:id and `extraRoutes` more parametric
// routes /items<k>/:id, more than maxRoutes (200), so that the endpoint table reaches its cap.
// 1. warm-up: `warmup` distinct /users/<n> and /nope/<n> URLs, then every extra route is hit
//    (100 requests each); forced GC; heap used = the baseline.
// 2. the million: `requests` more distinct URLs, half /users/<n> (param route), half /nope/<n>
//    (not found), none seen before; forced GC; heap used again.
// Reports the growth, and for server-watch the number of endpoint keys in the snapshot.
import { benchConfig, isMain, log, mb, pluginBuilt, runLoad, startServer } from './common.js'

const CONNECTIONS = 50
const WARMUP_OFFSET = 1_000_000_000 // warm-up URLs never collide with the million's

async function measureVariant (variant, cfg) {
  const server = await startServer(variant, { nodeArgs: ['--expose-gc'], extraRoutes: cfg.memoryExtraRoutes })
  try {
    const url = server.url
    await runLoad({ kind: 'distinct', url, connections: CONNECTIONS, amount: cfg.memoryWarmupRequests, offset: WARMUP_OFFSET })
    if (cfg.memoryExtraRoutes > 0) {
      await runLoad({ kind: 'distinct', url, connections: CONNECTIONS, amount: cfg.memoryExtraRoutes * 100, offset: 0, extraRoutes: cfg.memoryExtraRoutes })
    }
    const warm = await server.call('gc')
    const keysAfterWarmup = (await server.call('endpoints')).count
    const started = Date.now()
    const load = await runLoad({ kind: 'distinct', url, connections: CONNECTIONS, amount: cfg.memoryRequests, offset: 0 })
    const seconds = (Date.now() - started) / 1000
    const after = await server.call('gc')
    const endpoints = await server.call('endpoints')
    const result = {
      variant,
      requests: load.requests,
      failures: load.errors + load.timeouts,
      ok: load.ok,
      notFound: load.non2xx,
      seconds,
      reqPerSec: load.reqPerSec,
      heapAfterWarmup: warm.heapUsed,
      heapAfter: after.heapUsed,
      heapGrowth: after.heapUsed - warm.heapUsed,
      rssAfterWarmup: warm.rss,
      rssAfter: after.rss,
      endpointKeysAfterWarmup: keysAfterWarmup,
      endpointKeys: endpoints.count,
      endpointKeySample: endpoints.keys ?? null
    }
    log(`memory ${variant.padEnd(13)} ${result.requests} requests in ${seconds.toFixed(1)} s;` +
      ` heap ${mb(result.heapAfterWarmup)} -> ${mb(result.heapAfter)} MB (${mb(result.heapGrowth)} MB)` +
      (result.endpointKeys === null ? '' : `; endpoint keys ${result.endpointKeysAfterWarmup} -> ${result.endpointKeys}`))
    return result
  } finally {
    await server.stop()
  }
}

export async function runMemory (cfg = benchConfig()) {
  const variants = pluginBuilt() ? ['bare', 'server-watch'] : ['bare']
  const results = {}
  for (const variant of variants) results[variant] = await measureVariant(variant, cfg)
  return { requests: cfg.memoryRequests, warmup: cfg.memoryWarmupRequests, extraRoutes: cfg.memoryExtraRoutes, results }
}

if (isMain(import.meta.url)) {
  console.log(JSON.stringify(await runMemory(), null, 2))
}
