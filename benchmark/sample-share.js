// Where a loaded server's CPU goes, by part of the plugin (issue 31, "nextTick's maps" in README.md): a CPU profile of
// one benchmark/server.js variant at a fixed rate, each busy sample put in the first part of a list that claims a
// frame on its stack. It answers what paired.js cannot resolve: how much of the plugin's cost is the sampling loop
// (its sample step and the event-loop timer), to a tenth of a point.
//
//   npm run build && node benchmark/sample-share.js                     (server-watch, 5,000 req/s, 20 s)
//   BENCH_PAIR_RATE=10000 BENCH_SHARE_SECONDS=30 node benchmark/sample-share.js server-watch
import { cpuProfileFolder, envNumber, isMain, runLoad, startServer } from './common.js'

/** The plugin's build, as the profile's frames name their scripts. */
const BUILD = new URL('../dist/', import.meta.url).href
const inBuild = (frame, path) => frame.url.startsWith(BUILD + path)

/**
 * The parts, by a frame's script in the plugin's build (and, for the collector, its name); a sample goes to the first
 * part that claims any frame of its stack. The sampling loop's two parts come first and run from their own timers, so
 * what they claim is theirs alone. The request hooks' part is not their cost: Fastify runs the rest of a request from
 * inside their callbacks, so it also holds much of Fastify's and Node's work for the request.
 */
const PARTS = [
  ['sample step', (f) => inBuild(f, 'watch/sample.js') || inBuild(f, 'sampler.js')],
  ['event-loop timer', (f) => inBuild(f, 'collectors/event-loop.js')],
  ['request hooks', (f) => inBuild(f, 'requests/')],
  ['other plugin code', (f) => inBuild(f, '')],
  ['garbage collector', (f) => f.functionName === '(garbage collector)']
]
/** The sampling loop: the parts before this index. */
const LOOP_PARTS = 2

export async function sampleShare (variant, { rate = 5000, seconds = 20, path = '/' } = {}) {
  const profile = cpuProfileFolder(250)
  const server = await startServer(variant, { nodeArgs: profile.nodeArgs })
  try {
    // A warm-up first, so that what is compiled late weighs little: the profile covers it too, but it is short.
    await runLoad({ kind: 'fixed', url: server.url, path, connections: 25, duration: 5, overallRate: rate })
    const result = await runLoad({ kind: 'fixed', url: server.url, path, connections: 25, duration: seconds, overallRate: rate })
    await server.stop() // the process exits, and Node writes the profile
    return { requests: result.requests, ...attribute(profile.read()) }
  } finally {
    await server.stop()
    profile.remove()
  }
}

/** Busy samples by part, and the sampling loop's samples by the function they were in. */
export function attribute (profile) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const partOf = new Map()
  // The index in PARTS of the first part that claims a frame from this one to the root (PARTS.length: none).
  function part (id) {
    if (partOf.has(id)) return partOf.get(id)
    const own = PARTS.findIndex(([, claims]) => claims(byId.get(id).callFrame))
    const index = Math.min(own === -1 ? PARTS.length : own, parent.has(id) ? part(parent.get(id)) : PARTS.length)
    partOf.set(id, index)
    return index
  }
  const counts = Object.fromEntries([...PARTS.map(([name]) => [name, 0]), ['other', 0]])
  const inLoop = new Map()
  const loopPaths = new Map()
  const nameOf = (frame) => `${frame.url.startsWith(BUILD) ? frame.url.slice(BUILD.length) : frame.url}:${frame.functionName || '(anonymous)'}`
  let busy = 0
  for (const id of profile.samples) {
    const frame = byId.get(id).callFrame
    if (frame.functionName === '(idle)') continue
    busy++
    const index = part(id)
    counts[index === PARTS.length ? 'other' : PARTS[index][0]]++
    if (index < LOOP_PARTS) {
      const name = nameOf(frame)
      inLoop.set(name, (inLoop.get(name) ?? 0) + 1)
      // The call path from the loop's first frame on the stack, three frames deep: what each part costs in all.
      const stack = []
      for (let at = id; at !== undefined; at = parent.get(at)) stack.unshift(byId.get(at).callFrame)
      const entry = stack.findIndex((f) => PARTS.slice(0, LOOP_PARTS).some(([, claims]) => claims(f)))
      const path = stack.slice(entry, entry + 3).map(nameOf).join(' > ')
      loopPaths.set(path, (loopPaths.get(path) ?? 0) + 1)
    }
  }
  return {
    busy,
    shares: Object.fromEntries(Object.entries(counts).map(([name, n]) => [name, n / busy])),
    loopFunctions: [...inLoop].sort((a, b) => b[1] - a[1]).map(([name, n]) => [name, n / busy]),
    loopPaths: [...loopPaths].sort((a, b) => b[1] - a[1]).map(([path, n]) => [path, n / busy])
  }
}

if (isMain(import.meta.url)) {
  const variant = process.argv[2] ?? 'server-watch'
  const rate = envNumber('BENCH_PAIR_RATE', 5000)
  const { requests, busy, shares, loopFunctions, loopPaths } = await sampleShare(variant, { rate, seconds: envNumber('BENCH_SHARE_SECONDS', 20) })
  console.log(`${variant} at ${rate} req/s: ${requests} requests, ${busy} busy samples`)
  for (const [name, share] of Object.entries(shares)) console.log(`  ${name.padEnd(18)} ${(share * 100).toFixed(2)} %`)
  console.log('the sampling loop, by function (self):')
  for (const [name, share] of loopFunctions.slice(0, 25)) console.log(`  ${(share * 100).toFixed(3)} %  ${name}`)
  console.log('the sampling loop, by call path (each with what it calls):')
  for (const [path, share] of loopPaths.slice(0, 15)) console.log(`  ${(share * 100).toFixed(3)} %  ${path}`)
}
