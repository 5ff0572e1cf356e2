// How the plugin's routes show in the app's OpenAPI document (lib/routes/openapi.ts), read from @fastify/swagger.
import { test } from 'tap'
import Fastify from 'fastify'
import swagger from '@fastify/swagger'
import serverWatch, { type ServerWatchOptions } from '../../lib/plugin.js'

const PUBLIC = ['/health', '/health/live', '/health/ready', '/metrics']
const SWAGGER = { openapi: { info: { title: 'shop', version: '1.0.0' } } }

async function documentOf (t: { teardown (fn: () => unknown): void }, options: ServerWatchOptions, order: 'swagger first' | 'plugin first' = 'swagger first') {
  const app = Fastify()
  t.teardown(() => app.close())
  if (order === 'swagger first') await app.register(swagger, SWAGGER)
  await app.register(serverWatch, { sampleIntervalMs: 3_600_000, token: 'a-token-of-sixteen-chars', ...options })
  if (order === 'plugin first') await app.register(swagger, SWAGGER)
  app.get('/users/:id', async () => ({}))
  await app.ready()
  return app.swagger() as { paths: Record<string, Record<string, any>> }
}

test('issue 30.1: the public routes are documented under one tag with their response schemas; no internal route shows', async (t) => {
  const doc = await documentOf(t, { profiles: true })
  t.same(Object.keys(doc.paths).sort(), [...PUBLIC, '/users/{id}'].sort(), 'the app\'s route and the four public ones, nothing of the page, its files or its API')
  for (const path of PUBLIC) {
    t.same(doc.paths[path]!.get.tags, ['server-watch'], `${path}: the tag`)
    t.type(doc.paths[path]!.get.summary, 'string', `${path}: a summary`)
  }
  const health = doc.paths['/health']!.get.responses
  t.same(Object.keys(health), ['200', '503'])
  const json = health['200'].content['application/json'].schema
  t.same(json.anyOf.map((schema: { required: string[] }) => schema.required.slice(0, 2)), [['status', 'timestamp'], ['status', 'timestamp']], 'the snapshot or the summary')
  t.ok(json.anyOf[0].properties.checks, 'the snapshot\'s own schema (TypeBox), checks and all')
  t.ok(health['503'].content['application/health+json'].schema.properties.status, 'health+json as well')
  t.same(Object.keys(doc.paths['/health/ready']!.get.responses), ['200', '503'])
  t.same(doc.paths['/metrics']!.get.responses['200'].content, { 'text/plain; version=0.0.4; charset=utf-8': { schema: { type: 'string' } } })
})

test('issue 30.1: under a prefix, the public routes move and the rest stays hidden', async (t) => {
  const doc = await documentOf(t, { prefix: '/ops', healthPath: '/status' })
  t.same(Object.keys(doc.paths).sort(), ['/ops/metrics', '/ops/status', '/ops/status/live', '/ops/status/ready', '/users/{id}'])
})

test('issue 30.1: openapi: false hides every route of the plugin', async (t) => {
  const doc = await documentOf(t, { openapi: false })
  t.same(Object.keys(doc.paths), ['/users/{id}'])
})

test('issue 30.1: registered before @fastify/swagger, nothing of the plugin shows (swagger sees only later routes)', async (t) => {
  const doc = await documentOf(t, {}, 'plugin first')
  t.same(Object.keys(doc.paths), ['/users/{id}'])
})

test('issue 30.1: the documentation keys change nothing the routes answer', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(swagger, SWAGGER)
  await app.register(serverWatch, { sampleIntervalMs: 3_600_000 })
  await app.ready()
  await app.serverWatch.refresh()
  t.equal((await app.inject('/health')).json().status, 'healthy')
  t.same((await app.inject('/health/live')).json(), { status: 'pass' })
  t.equal((await app.inject('/dashboard/api/history?range=nope')).statusCode, 400, 'a hidden route keeps its validation')
  t.match((await app.inject('/metrics')).body, /^# HELP /m)
})

test('issue 30.1: "openapi" must be a boolean', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await t.rejects(async () => { await app.register(serverWatch, { openapi: 'no' as never }) }, { code: 'FST_SERVER_WATCH_INVALID_OPTION', message: '"openapi" option must be a boolean, got "no"' })
})
