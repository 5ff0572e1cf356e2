// Whether a server is in the state where `process.nextTick` takes V8's slow path (issue 31, "Code loaded, not code
// run" in README.md): the share of busy CPU-profile samples spent in `nextTick` itself, after 40,000 requests. About
// 1 % when it is not, 8 % and more when it is; quicker than callgrind (20 s) and enough to tell the two apart.
//
//   npm run build && node benchmark/tick-share.js bare
//   BENCH_PRELOAD=mongodb,../dist/plugin.js node benchmark/tick-share.js bare
//   BENCH_NODE_ARGS=--expose-gc SHAPES_GC=1 BENCH_PRELOAD=./fixtures/empty-object-shapes.js node benchmark/tick-share.js bare
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { isMain, SERVER_NODE_ARGS, spawnListening } from './common.js'

const SCRIPT = fileURLToPath(new URL('./hook-server.js', import.meta.url))

export async function tickShare (variant) {
  const dir = mkdtempSync(join(tmpdir(), 'sw-tick-'))
  const { child, port } = await spawnListening(SCRIPT, [variant], { nodeArgs: [...SERVER_NODE_ARGS, '--cpu-prof', '--cpu-prof-interval', '200', '--cpu-prof-dir', dir] })
  try {
    // BENCH_TICK_IDLE_S: idle first, as a server waits for its first requests (V8's memory reducer runs meanwhile).
    await new Promise((resolve) => setTimeout(resolve, Number(process.env.BENCH_TICK_IDLE_S ?? 0) * 1000))
    await autocannon({ url: `http://127.0.0.1:${port}/`, connections: 10, amount: 40_000 })
    // hook-server.js exits when its IPC channel closes, and Node writes the profile on exit.
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.disconnect()
    await exited
    const profile = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]), 'utf8'))
    const names = new Map(profile.nodes.map((node) => [node.id, node.callFrame.functionName]))
    let busy = 0
    let tick = 0
    for (const id of profile.samples) {
      const name = names.get(id)
      if (name === '(idle)') continue
      busy++
      if (name === 'nextTick') tick++
    }
    return tick / busy
  } finally {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
}

if (isMain(import.meta.url)) {
  const variant = process.argv[2] ?? 'bare'
  const share = await tickShare(variant)
  console.log(`${variant}${process.env.BENCH_PRELOAD ? ` with ${process.env.BENCH_PRELOAD} loaded` : ''}: nextTick ${(share * 100).toFixed(1)} % of busy samples`)
}
