/**
 * The demo app of the browser tests and of `npm run screenshots`: the plugin and routes like a real API's, with
 * realistic latencies, and traffic in waves to fill its charts.
 */
import http from 'node:http'
import Fastify, { type FastifyInstance } from 'fastify'
import { MongoClient } from 'mongodb'
import serverWatch, { type ServerWatchOptions } from '../../lib/plugin.js'
import { dashboardBase } from '../../lib/routes/dashboard.js'
import { startMongoServer, type TestMongoServer } from './mongo-server.js'

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

// Valid in a request line (no spaces, no quotes), so the server records it exactly as sent.
export const XSS_PATH = '/xss/<img/src=x/onerror=window.__pwned=1><script>window.__pwned=2</script>'
export const XSS_MESSAGE = 'Bad input <img src=x onerror="window.__pwned=3"> and <script>window.__pwned=4</script>'

export interface DemoOptions extends ServerWatchOptions { mongo?: never }

export interface Demo {
  app: FastifyInstance
  origin: string
  /** The dashboard's URL, ending in a slash. */
  dashboard: string
  hit (method: string, path: string, body?: unknown): Promise<number>
  close (): Promise<void>
}

/** A listening app with the plugin and routes like a real API's; `withMongo` adds a MongoDB (test wire server). */
export async function startDemo (t: { teardown (fn: () => unknown): void }, options: DemoOptions = {}, withMongo = false): Promise<Demo> {
  let mongoServer: TestMongoServer | null = null
  let client: MongoClient | null = null
  if (withMongo) {
    mongoServer = await startMongoServer()
    client = new MongoClient(mongoServer.uri, { monitorCommands: true, serverSelectionTimeoutMS: 2000 })
    await client.connect()
  }
  const app = Fastify()
  await app.register(serverWatch, {
    sampleIntervalMs: 200,
    ...options,
    ...(client === null ? {} : { mongo: client }),
    checks: options.checks ?? {
      cache: async () => { await sleep(2) },
      'payments-api': { check: async () => { await sleep(5) }, required: false }
    }
  })
  const orders = client?.db('shop').collection('orders')
  const jitter = (base: number) => sleep(base * (0.5 + Math.random()) + (Math.random() < 0.03 ? base * 6 : 0))
  app.get('/users/:id', async (request) => {
    await jitter(4)
    if (orders) await orders.findOne({ user: (request.params as { id: string }).id })
    return { id: (request.params as { id: string }).id }
  })
  app.get('/products', async () => { await jitter(9); return [] })
  app.get('/products/:id/reviews', async () => { await jitter(14); return [] })
  app.post('/orders', async (_request, reply) => {
    await jitter(20)
    if (orders) await orders.insertOne({ at: new Date() })
    return reply.code(201).send({ ok: true })
  })
  app.post('/login', {
    schema: { body: { type: 'object', required: ['user'], properties: { user: { type: 'string' } } } }
  }, async () => ({ token: 'x' }))
  app.get('/reports/daily', async () => { await jitter(60); return {} })
  app.get('/fail', async () => { throw new Error('Upstream inventory service timed out after 2000 ms') })
  app.get('/xss/*', async () => { throw new Error(XSS_MESSAGE) })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  const origin = `http://127.0.0.1:${address.port}`

  const hit = (method: string, path: string, body?: unknown) => new Promise<number>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body)
    // host, port and path apart: a URL string would be parsed, and its path percent-encoded.
    const request = http.request({
      host: '127.0.0.1',
      port: address.port,
      path,
      method,
      headers: payload === undefined ? {} : { 'content-type': 'application/json' }
    }, (response) => {
      response.resume()
      response.on('end', () => resolve(response.statusCode ?? 0))
    })
    request.on('error', reject)
    request.end(payload)
  })

  const demo: Demo = {
    app,
    origin,
    dashboard: `${origin}${dashboardBase(options.prefix ?? '', '/dashboard')}`,
    hit,
    async close () {
      await app.close()
      await client?.close()
      await mongoServer?.stop()
    }
  }
  t.teardown(() => demo.close())
  return demo
}

/** One request of a realistic mix: mostly reads, some writes and, with `errors`, the odd client or server error. */
export function randomRequest (demo: Demo, errors: boolean): Promise<number> {
  const roll = Math.random() * (errors ? 1 : 0.84)
  if (roll < 0.42) return demo.hit('GET', `/users/${Math.floor(Math.random() * 500)}`)
  if (roll < 0.62) return demo.hit('GET', '/products')
  if (roll < 0.72) return demo.hit('GET', `/products/${Math.floor(Math.random() * 90)}/reviews`)
  if (roll < 0.84) return demo.hit('POST', '/orders', { items: 2 })
  if (roll < 0.9) return demo.hit('POST', '/login', Math.random() < 0.25 ? {} : { user: 'ada' })
  if (roll < 0.94) return demo.hit('GET', '/reports/daily')
  if (roll < 0.97) return demo.hit('GET', `/missing/${Math.floor(Math.random() * 9)}`)
  if (roll < 0.985) return demo.hit('GET', '/fail')
  return demo.hit('GET', '/products')
}

/** Traffic in waves until stopped; `rate` is the mean number of requests per second. */
export function startTraffic (demo: Demo, rate: number, errors = true): () => Promise<void> {
  const control = { running: true }
  const started = Date.now()
  const pending = new Set<Promise<unknown>>()
  const loop = async () => {
    while (control.running) {
      const seconds = (Date.now() - started) / 1000
      const current = rate * (1 + 0.45 * Math.sin(seconds / 9) + 0.2 * Math.sin(seconds / 2.3))
      const request = randomRequest(demo, errors).catch(() => 0)
      pending.add(request)
      request.finally(() => pending.delete(request)).catch(() => {})
      await sleep(1000 / Math.max(1, current))
    }
  }
  const done = loop()
  return async () => {
    control.running = false
    await done
    await Promise.all(pending)
  }
}
