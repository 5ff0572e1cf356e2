// The published package as a consumer meets it: its types compile without `mongodb` installed and with
// `skipLibCheck: false`, and the links of README.md and docs/ resolve. Needs `npm run build` (npm test runs it first).
import { test, type Test } from 'tap'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { brokenLinks, githubAnchors } from './helpers/links.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const modules = realpathSync(join(root, 'node_modules'))

const CONSUMER = `import Fastify from 'fastify'
import serverWatch, { type HealthSnapshot, type MongoClientLike } from 'fastify-server-watch'

const app = Fastify()
await app.register(serverWatch, { prefix: '/ops' })
const snapshot: HealthSnapshot = app.serverWatch.snapshot()
const db = snapshot.database
const inUse: number | null = db.status === 'not_configured' ? null : db.pool.inUse
export const client: MongoClientLike | null = null
console.log(snapshot.status, inUse)
`

// CommonJS on Node >= 20.19 loads the package through require(esm); TypeScript >= 5.8 types it under `module: nodenext`.
const CJS_CONSUMER = `import watch = require('fastify-server-watch')
import Fastify = require('fastify')

const app = Fastify()
app.register(watch.serverWatch, { healthPath: '/healthz' })
export const plugin: typeof watch.default = watch.serverWatch
`

/** A project whose node_modules holds the packed files of this package and its type dependencies, no `mongodb`. */
function consumerProject (t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'server-watch-consumer-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const own = join(dir, 'node_modules', 'fastify-server-watch')
  mkdirSync(own, { recursive: true })
  const { dependencies, files } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>, files: string[] }
  for (const name of ['package.json', ...files]) cpSync(join(root, name), join(own, name), { recursive: true })
  for (const name of ['fastify', '@types/node', 'typescript', ...Object.keys(dependencies)]) {
    mkdirSync(dirname(join(dir, 'node_modules', name)), { recursive: true })
    symlinkSync(join(modules, name), join(dir, 'node_modules', name), 'dir')
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }))
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, noEmit: true, types: ['node'] },
    files: ['app.ts', 'cjs.cts']
  }))
  writeFileSync(join(dir, 'app.ts'), CONSUMER)
  writeFileSync(join(dir, 'cjs.cts'), CJS_CONSUMER)
  return dir
}

test('issue 17: an app without mongodb type-checks against the built package with skipLibCheck false, in ESM and CommonJS', async (t) => {
  const dir = consumerProject(t)
  const tsc = join(dir, 'node_modules', 'typescript', 'bin', 'tsc')
  const result = await promisify(execFile)(process.execPath, [tsc, '-p', dir], { cwd: dir }).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number, stdout: string }) => ({ code: error.code, stdout: error.stdout })
  )
  t.equal(result.stdout, '', 'no type error')
  t.equal(result.code, 0)
})

test('issue 17: the tarball holds the LICENSE and no source map pointing at sources it does not ship', async (t) => {
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root })
  const files = (JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((file) => file.path)
  t.ok(files.includes('LICENSE'), 'LICENSE is packed')
  t.same(files.filter((path) => path.endsWith('.map')), [], 'no .map file')
  t.same(files.filter((path) => !/^(dist|public)\//.test(path) && !['LICENSE', 'README.md', 'package.json'].includes(path)), [])
  t.ok(files.includes('dist/plugin.js') && files.includes('dist/plugin.d.ts'), 'the entry and its types')
})

test('issue 17: the README\'s quick start runs as pasted, without a database, against the built package', async (t) => {
  const dir = consumerProject(t)
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const example = /## Quick start\n[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1]
  if (example === undefined) throw new Error('README.md has no js block under "## Quick start"')
  // The one change: any free port instead of 3000, printed for the test (the machine is shared).
  t.match(example, /await app\.listen\(\{ port: 3000 \}\)\n$/)
  writeFileSync(join(dir, 'quick-start.mjs'), example.replace('port: 3000', 'port: 0') + 'console.log(app.server.address().port)\n')
  const env = { ...process.env }
  delete env.NODE_ENV // the local rule opens the dashboard outside production only
  const child = spawn(process.execPath, ['quick-start.mjs'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill() })
  const [chunk] = await once(child.stdout, 'data') as [Buffer]
  const base = `http://127.0.0.1:${Number(chunk.toString())}`
  t.equal(await (await fetch(`${base}/`)).text(), 'hello')
  const health = await (await fetch(`${base}/health`, { headers: { host: 'localhost' } })).json() as { status: string, database: unknown, application: { totalRequests: number } }
  t.equal(health.status, 'healthy')
  t.same(health.database, { status: 'not_configured' })
  t.equal(health.application.totalRequests, 1, 'the request to / was counted')
  t.equal((await fetch(`${base}/dashboard`, { headers: { host: 'localhost' } })).status, 200, 'the dashboard opens from this host')
})

// docs/ARCHITECTURE.md is written on another branch of issue 17: until it is merged, its links are reported, not failed.
const PENDING = 'docs/ARCHITECTURE.md'

test('README.md and docs/*.md: every relative link names an existing file and heading', async (t) => {
  const broken = brokenLinks(root)
  const pending = existsSync(join(root, PENDING)) ? [] : broken.filter((link) => link.endsWith(': ' + PENDING))
  if (pending.length > 0) t.comment(`not written yet: ${pending.join(', ')}`)
  t.same(broken.filter((link) => !pending.includes(link)), [])
})

test('the link checker sees a missing file, a missing heading and GitHub\'s anchor rules', async (t) => {
  t.same([...githubAnchors('# The `/health` snapshot\n## Probes and health+json\n```sh\n# not a heading\n```\n## Probes and health+json')],
    ['the-health-snapshot', 'probes-and-healthjson', 'probes-and-healthjson-1'])
  const dir = mkdtempSync(join(tmpdir(), 'server-watch-links-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'docs'))
  writeFileSync(join(dir, 'README.md'), '# Top\n[a](docs/a.md#usage) [b](docs/b.md) [c](#top) [d](#nowhere) [e](https://example.com/x)\n<img alt="x" src="docs/x.png">\n')
  writeFileSync(join(dir, 'docs', 'a.md'), '# A\n[back](../README.md#top) `[not](a-link.md)`\n')
  t.same(brokenLinks(dir), ['README.md: docs/a.md#usage', 'README.md: docs/b.md', 'README.md: #nowhere', 'README.md: docs/x.png'])
})

test('issue 26.14 and 30.3: npm pack of a clean checkout builds dist/, and the tarball installs, imports, requires and registers', async (t) => {
  const run = promisify(execFile)
  const work = mkdtempSync(join(tmpdir(), 'server-watch-pack-'))
  t.teardown(() => rmSync(work, { recursive: true, force: true }))
  // A clean checkout of HEAD (what a clone holds: no dist/), with the repository's node_modules for the build.
  const checkout = join(work, 'checkout')
  mkdirSync(checkout)
  await run('sh', ['-c', `git archive --format=tar HEAD | tar -x -C '${checkout}'`], { cwd: root })
  t.notOk(existsSync(join(checkout, 'dist')), 'the checkout has no dist/')
  symlinkSync(modules, join(checkout, 'node_modules'), 'dir')
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], { cwd: checkout, maxBuffer: 64 * 1024 * 1024 })
  const packed = (JSON.parse(stdout.slice(stdout.indexOf('['))) as Array<{ filename: string, files: Array<{ path: string }> }>)[0]!
  const files = packed.files.map((file) => file.path)
  t.ok(files.includes('dist/plugin.js') && files.includes('dist/plugin.d.ts'), 'prepack built dist/ into the tarball')
  t.ok(files.length > 50, `${files.length} files, not the 18 of a tarball without dist/`)

  // An empty project: the tarball unpacked as npm would, its runtime dependencies and fastify (the peer) beside it.
  const app = join(work, 'app')
  const own = join(app, 'node_modules', 'fastify-server-watch')
  mkdirSync(own, { recursive: true })
  await run('tar', ['-xzf', join(work, packed.filename), '-C', own, '--strip-components=1'])
  const manifest = JSON.parse(readFileSync(join(own, 'package.json'), 'utf8')) as { dependencies: Record<string, string>, peerDependencies: Record<string, string> }
  t.equal(manifest.peerDependencies.fastify, '^5.0.0', 'fastify is a peer dependency')
  for (const name of ['fastify', ...Object.keys(manifest.dependencies)]) {
    mkdirSync(dirname(join(app, 'node_modules', name)), { recursive: true })
    symlinkSync(join(modules, name), join(app, 'node_modules', name), 'dir')
  }
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }))
  const use = (load: string) => `${load}
const app = Fastify()
await app.register(serverWatch)
const response = await app.inject({ url: '/health' })
console.log(response.statusCode, response.json().status, typeof app.serverWatch.snapshot)
await app.close()
`
  writeFileSync(join(app, 'esm.mjs'), use("import Fastify from 'fastify'\nimport serverWatch from 'fastify-server-watch'"))
  writeFileSync(join(app, 'cjs.cjs'), `(async () => {\n${use("const Fastify = require('fastify')\nconst { serverWatch } = require('fastify-server-watch')")}})()`)
  for (const file of ['esm.mjs', 'cjs.cjs']) {
    const result = await run(process.execPath, [file], { cwd: app })
    t.equal(result.stdout, '200 healthy function\n', `${file}: loads, registers and answers /health`)
  }
})
