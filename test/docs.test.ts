// Issue 30.5: every ```js and ```ts block of README.md and docs/*.md runs as pasted, against the built package.
//
// How a block is run: TypeScript is stripped (no type check: that is test/types' job), the block is written to a
// project whose node_modules holds this package and the repository's dependencies, and run with Node. A block that
// uses `app` without declaring it is a snippet of an app: it runs after `const app = Fastify()` (and
// `await app.register(serverWatch)` when it does not register the plugin itself). Then the app is made ready, asked
// for /health and /metrics, and closed. `port: 3000` becomes a free port (the machine is shared).
// The environment is a reader's who followed the docs: MONGODB_URI names a MongoDB (the test wire-protocol server),
// and the tokens the examples read (OPS_TOKEN, WATCH_TOKEN, SCRAPE_TOKEN) are set.
// A block whose first line is `// not runnable as pasted: <why>` is skipped, with the reason, and the reader sees it;
// so is a block that imports a package this repository does not install (named in the skip).
// Needs `npm run build`.
import { execFile } from 'node:child_process'
import { builtinModules } from 'node:module'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import ts from 'typescript'
import { startMongoServer } from './helpers/mongo-server.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const modules = realpathSync(join(root, 'node_modules'))
const NOT_RUNNABLE = /^\/\/ not runnable as pasted: (.+)$/

export interface CodeBlock { file: string, line: number, lang: 'js' | 'ts', code: string }

/** The ```js and ```ts blocks of a Markdown text, with the line each starts on. */
export function codeBlocks (file: string, text: string): CodeBlock[] {
  const found: CodeBlock[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(js|ts|javascript|typescript)\s*$/.exec(lines[i]!)
    if (open === null) {
      if (/^```/.test(lines[i]!)) {
        // Skip any other fenced block whole, so that its content is never read as a fence.
        const end = lines.findIndex((line, j) => j > i && /^```\s*$/.test(line))
        if (end > i) i = end
      }
      continue
    }
    const end = lines.findIndex((line, j) => j > i && /^```\s*$/.test(line))
    if (end < 0) throw new Error(`${file}:${i + 1}: a code block that is never closed`)
    found.push({ file, line: i + 1, lang: open[1]!.startsWith('t') ? 'ts' : 'js', code: lines.slice(i + 1, end).join('\n') + '\n' })
    i = end
  }
  return found
}

/** The program that runs a block: a snippet gets its app first, and every block gets the checks after it. */
export function program (block: CodeBlock): string {
  const code = block.code.replace(/port: 3000\b/g, 'port: 0')
  const declaresApp = /\b(?:const|let|var)\s+app\b/.test(code)
  const lines: string[] = []
  if (!declaresApp) {
    if (!/^import\s+Fastify\b/m.test(code)) lines.push("import Fastify from 'fastify'")
    if (!/^import\s+(?:serverWatch\b|\{[^}]*\bserverWatch\b[^}]*\})/m.test(code)) lines.push("import serverWatch from 'fastify-server-watch'")
    lines.push('const app = Fastify()')
    if (!/app\.register\(\s*serverWatch\b/.test(code)) lines.push('await app.register(serverWatch)')
  }
  lines.push(code)
  lines.push(
    'await app.ready()',
    'const __health = await app.inject({ url: "/health" })',
    'if (__health.statusCode !== 200 && __health.statusCode !== 503) throw new Error("/health answered " + __health.statusCode)',
    'await app.inject({ url: "/metrics" })',
    'await app.close()',
    // A block may hold what an app keeps open (a MongoClient): its run is over.
    'process.exit(0)'
  )
  const text = lines.join('\n')
  if (block.lang === 'js') return text
  return ts.transpileModule(text, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false } }).outputText
}

/** The packages a block imports (not Node's own, not relative paths). */
export function importedPackages (code: string): string[] {
  const names = new Set<string>()
  for (const match of code.matchAll(/(?:^import\s[^'"]*?from\s*|^import\s*|\bimport\(\s*)['"]([^'"]+)['"]/gm)) {
    const specifier = match[1]!
    if (specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('node:') || builtinModules.includes(specifier)) continue
    names.add(specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/'))
  }
  return [...names]
}

/** README.md and docs/*.md, in a stable order. */
function documents (): string[] {
  return ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).sort().map((name) => `docs/${name}`)]
}

/** A project that installs this package (a link to the repository, whose dist/ the build wrote) and its dependencies. */
function project (dir: string): void {
  const nodeModules = join(dir, 'node_modules')
  mkdirSync(nodeModules)
  for (const name of readdirSync(modules)) {
    if (name === '.bin' || name === 'fastify-server-watch') continue
    symlinkSync(join(modules, name), join(nodeModules, name), 'dir')
  }
  symlinkSync(root, join(nodeModules, 'fastify-server-watch'), 'dir')
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'docs-blocks', type: 'module', private: true }))
}

test('issue 30.5: the code-block reader finds js and ts blocks, their lines, and nothing inside other fences', async (t) => {
  const text = '# x\n```js\nconst a = 1\n```\n```sh\n```js\nnot a block\n```\n```ts\nlet b: number = 2\n```\n'
  t.same(codeBlocks('x.md', text), [
    { file: 'x.md', line: 2, lang: 'js', code: 'const a = 1\n' },
    { file: 'x.md', line: 9, lang: 'ts', code: 'let b: number = 2\n' }
  ])
  const snippet = program({ file: 'x.md', line: 1, lang: 'ts', code: 'const n: number = app.serverWatch.status().length\nawait app.listen({ port: 3000 })\n' })
  t.match(snippet, /^import Fastify from 'fastify';\nimport serverWatch from 'fastify-server-watch';\nconst app = Fastify\(\);\nawait app\.register\(serverWatch\);\nconst n = app/)
  t.match(snippet, /port: 0/)
  t.notMatch(program({ file: 'x.md', line: 1, lang: 'js', code: "import Fastify from 'fastify'\nconst app = Fastify()\n" }), /register\(serverWatch\)/)
  t.same(importedPackages("import a from '@scope/pkg/sub'\nimport { b } from \"plain\"\nimport 'side-effect'\nimport fs from 'node:fs'\nimport p from 'path'\nawait import('./server.js')\nawait import('dyn/x')\n"),
    ['@scope/pkg', 'plain', 'side-effect', 'dyn'])
})

test('issue 30.5: every js and ts block of README.md and docs/*.md runs as pasted', async (t) => {
  const mongo = await startMongoServer()
  t.teardown(() => mongo.stop())
  const dir = mkdtempSync(join(tmpdir(), 'server-watch-docs-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  project(dir)
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MONGODB_URI: mongo.uri,
    OPS_TOKEN: 'docs-ops-token-0123456789',
    WATCH_TOKEN: 'docs-watch-token-0123456789',
    SCRAPE_TOKEN: 'docs-scrape-token-0123456789'
  }
  for (const name of ['NODE_ENV', 'SERVER_WATCH_TOKEN', 'SERVER_WATCH_DIR']) delete env[name]
  const blocks = documents().flatMap((file) => codeBlocks(file, readFileSync(join(root, file), 'utf8')))
  t.ok(blocks.length >= 10, `${blocks.length} blocks`)
  for (const [index, block] of blocks.entries()) {
    const where = `${block.file}:${block.line}`
    const missing = importedPackages(block.code).filter((name) => !existsSync(join(dir, 'node_modules', name)))
    const reason = NOT_RUNNABLE.exec(block.code.split('\n')[0]!)?.[1] ??
      (missing.length > 0 ? `needs ${missing.join(', ')}, which this repository does not install` : undefined)
    if (reason !== undefined) {
      t.pass(`${where}: skipped, not runnable as pasted: ${reason}`, { skip: reason })
      continue
    }
    const file = join(dir, `block-${index}.mjs`)
    writeFileSync(file, program(block))
    const result = await new Promise<{ code: number | null, stderr: string }>((resolve) => {
      execFile(process.execPath, [file], { cwd: dir, env, timeout: 60_000 }, (error, _stdout, stderr) => {
        resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : null, stderr })
      })
    })
    t.equal(result.code, 0, `${where} runs${result.code === 0 ? '' : `:\n${result.stderr.split('\n').slice(0, 12).join('\n')}`}`)
  }
})

test('issue 30.5: every token written in README.md and docs/*.md, in a block or in the text, is one that register accepts', async (t) => {
  const { normalizeOptions } = await import('../lib/options.js')
  let seen = 0
  for (const file of documents()) {
    for (const match of readFileSync(join(root, file), 'utf8').matchAll(/\btoken: '([^']*)'/g)) {
      seen++
      t.doesNotThrow(() => normalizeOptions({ token: match[1]! }), `${file}: token: '${match[1]}'`)
    }
  }
  t.ok(seen >= 2, `${seen} tokens written out`)
})
