import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { FormatRegistry } from '@sinclair/typebox'
import serverWatch, { type ServerWatchOptions } from '../../lib/plugin.js'

// TypeBox checks formats only when told how: the snapshot's timestamps are ISO 8601.
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value) && !Number.isNaN(Date.parse(value)))
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The loop samples once at start and then only when the test calls `refresh()` (see test/README.md). */
export const TEST_SAMPLE_INTERVAL_MS = 3_600_000

/**
 * A fresh app with the plugin and a few routes like a real app's; the caller closes it. No real loop runs: a test
 * that wants a sample calls `app.serverWatch.refresh()`, one that tests the loop passes its own `sampleIntervalMs`.
 */
export async function buildApp (options: ServerWatchOptions = {}, fastifyOptions: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify(fastifyOptions)
  await app.register(serverWatch, { sampleIntervalMs: TEST_SAMPLE_INTERVAL_MS, ...options })
  app.get('/', async () => ({ hello: 'world' }))
  app.get('/users/:id', async (request) => ({ id: (request.params as { id: string }).id }))
  app.post('/users', {
    schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } }
  }, async (_request, reply) => reply.code(201).send({ ok: true }))
  app.get('/fail', async () => { throw new Error('database exploded') })
  app.get('/teapot', async (_request, reply) => reply.code(418).send({ short: 'and stout' }))
  app.get('/private', { config: { serverWatch: false } }, async () => ({ hidden: true }))
  return app
}
