// The published package as a consumer meets it: its types compile without `mongodb` installed and with
// `skipLibCheck: false`, and the links of README.md and docs/ resolve. Needs `npm run build` (npm test runs it first).
import { test, type Test } from 'tap'
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { brokenLinks } from './helpers/links.js'

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
  cpSync(join(root, 'package.json'), join(own, 'package.json'))
  cpSync(join(root, 'dist'), join(own, 'dist'), { recursive: true })
  for (const name of ['fastify', '@fastify/error', '@sinclair/typebox', '@types/node', 'typescript']) {
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

test('README.md and docs/*.md: every relative link names an existing file and heading', async (t) => {
  t.same(brokenLinks(root), [])
})
