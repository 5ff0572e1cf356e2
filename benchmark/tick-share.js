// Whether a server is in the state where `process.nextTick` takes V8's slow path (issue 31, "Code loaded, not code
// run" and "nextTick's maps" in README.md): the share of busy CPU-profile samples spent in `nextTick` itself, after
// 40,000 requests. About 1 % when it is not, 8 % and more when it is; quicker than callgrind (20 s) and enough to
// tell the two apart.
//
//   npm run build && node benchmark/tick-share.js bare
//   BENCH_TICK_IDLE_S=15 node benchmark/tick-share.js bare               (idle first, as a server before its traffic)
//   BENCH_PRELOAD=mongodb,../dist/plugin.js node benchmark/tick-share.js bare
//   BENCH_NODE_ARGS=--expose-gc SHAPES_GC=1 BENCH_PRELOAD=./fixtures/empty-object-shapes.js node benchmark/tick-share.js bare
import { cpuProfileFolder, envNumber, isMain, SERVER_NODE_ARGS, serveThenExit } from './common.js'

export async function tickShare (variant, { idleS = 0 } = {}) {
  const profile = cpuProfileFolder(200)
  try {
    // V8's memory reducer makes its full collections while the server idles (README.md, "nextTick's maps").
    await serveThenExit(variant, { nodeArgs: [...SERVER_NODE_ARGS, ...profile.nodeArgs], requests: 40_000, idleS })
    const { nodes, samples } = profile.read()
    const names = new Map(nodes.map((node) => [node.id, node.callFrame.functionName]))
    let busy = 0
    let tick = 0
    for (const id of samples) {
      const name = names.get(id)
      if (name === '(idle)') continue
      busy++
      if (name === 'nextTick') tick++
    }
    return tick / busy
  } finally {
    profile.remove()
  }
}

if (isMain(import.meta.url)) {
  const variant = process.argv[2] ?? 'bare'
  const idleS = envNumber('BENCH_TICK_IDLE_S', 0)
  const share = await tickShare(variant, { idleS })
  console.log(`${variant}${process.env.BENCH_PRELOAD ? ` with ${process.env.BENCH_PRELOAD} loaded` : ''}${idleS > 0 ? ` after ${idleS} s idle` : ''}: nextTick ${(share * 100).toFixed(1)} % of busy samples`)
}
