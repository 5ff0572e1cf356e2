// Which kinds of EventEmitter a server makes, and in what order (issue 31, "What the last points are not" in
// README.md): V8 records EventEmitter.init's feedback only after its first calls, and its sites go megamorphic once
// they have seen a fifth map, which every request then pays for. Each variant of hook-server.js serves 2,000
// requests with fixtures/emitter-kinds.cjs loaded first.
//
//   npm run build && node benchmark/emitter-kinds.js 'timed onRequest and onSend' server-watch
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isMain, serveThenExit } from './common.js'

const TRACER = fileURLToPath(new URL('./fixtures/emitter-kinds.cjs', import.meta.url))

export async function emitterKinds (variant) {
  const dir = mkdtempSync(join(tmpdir(), 'sw-emitters-'))
  try {
    const out = join(dir, 'kinds.json')
    await serveThenExit(variant, { nodeArgs: ['--require', TRACER], env: { ...process.env, EMITTER_KINDS_OUT: out }, requests: 2000 })
    return JSON.parse(readFileSync(out, 'utf8'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (isMain(import.meta.url)) {
  const variants = process.argv.slice(2)
  if (variants.length === 0) {
    console.error('usage: node benchmark/emitter-kinds.js <variant> [<variant> ...]')
    process.exit(2)
  }
  for (const variant of variants) {
    console.log(`\n${variant}: the kinds of EventEmitter, in the order they first came\n\n| first call | instances | kind |\n| --- | --- | --- |`)
    for (const { name, first, count } of await emitterKinds(variant)) console.log(`| ${first} | ${count} | ${name} |`)
  }
}
