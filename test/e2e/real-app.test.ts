/**
 * Issue 30, "Done when": the plugin inside an app like a production one, with @fastify/helmet, @fastify/compress,
 * @fastify/rate-limit and @fastify/swagger, registered before them and after them. The page works live in
 * Chromium (under helmet's headers, its stream through compress), the 429s and 400s are counted, and the OpenAPI
 * document lists the public routes and none of the internal ones. Skipped locally without Chromium.
 */
import { test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import compress from '@fastify/compress'
import helmet from '@fastify/helmet'
import rateLimit from '@fastify/rate-limit'
import swagger from '@fastify/swagger'
import serverWatch from '../../lib/plugin.js'
import { chromiumMissing, launchBrowser, openPage, type BrowserSession } from '../helpers/browser.js'

const PUBLIC = ['/health', '/health/live', '/health/ready', '/metrics']
const ORDERS = ['plugin after the others', 'plugin before the others'] as const
type Order = typeof ORDERS[number]

async function realApp (order: Order): Promise<{ app: FastifyInstance, origin: string }> {
  const app = Fastify()
  const others = async () => {
    await app.register(swagger, { openapi: { info: { title: 'shop', version: '1.0.0' } } })
    await app.register(helmet)
    await app.register(compress, { threshold: 256 })
    await app.register(rateLimit, { max: 10_000, timeWindow: '1 minute' })
  }
  if (order === 'plugin after the others') await others()
  await app.register(serverWatch, { sampleIntervalMs: 200 })
  if (order === 'plugin before the others') await others()
  app.get('/users/:id', async (request) => ({ id: (request.params as { id: string }).id, padding: 'x'.repeat(1000) }))
  app.get('/limited', { config: { rateLimit: { max: 2, timeWindow: '1 minute' } } }, async () => ({ ok: true }))
  app.post('/orders', {
    schema: { body: { type: 'object', required: ['items'], properties: { items: { type: 'integer' } } } }
  }, async (_request, reply) => reply.code(201).send({ ok: true }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return { app, origin: `http://127.0.0.1:${address.port}` }
}

const missing = chromiumMissing()

test('issue 30: at home in a real app (helmet, compress, rate-limit, swagger), in both orders', { skip: missing ?? false }, async (t) => {
  const session: BrowserSession = await launchBrowser()
  t.teardown(() => session.close())

  for (const order of ORDERS) {
    t.test(order, async (t) => {
      const { app, origin } = await realApp(order)
      t.teardown(() => app.close())

      // The counts: the rate limiter's 429s and the body validation's 400s, beside the 200s and the 201.
      const statuses: number[] = []
      for (let i = 0; i < 5; i++) statuses.push((await fetch(`${origin}/limited`)).status)
      t.same(statuses, [200, 200, 429, 429, 429], 'the rate limiter answers')
      const post = (body: unknown) => fetch(`${origin}/orders`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      t.equal((await post({ items: 'many' })).status, 400)
      t.equal((await post({})).status, 400)
      t.equal((await post({ items: 2 })).status, 201)
      const user = await fetch(`${origin}/users/7`, { headers: { 'accept-encoding': 'gzip' } })
      t.equal(user.status, 200)
      if (order === 'plugin after the others') t.equal(user.headers.get('content-encoding'), 'gzip', 'compress is on')
      await app.serverWatch.refresh()
      await app.serverWatch.refresh()
      const { application } = app.serverWatch.snapshot()
      t.same(application.statusCodes, { 200: 3, 201: 1, 400: 2, 429: 3 }, 'every answer counted, by its status')
      t.match(application.endpoints['GET /limited'], { count: 5 })
      t.match(application.endpoints['POST /orders'], { count: 3 })

      // The OpenAPI document: swagger sees the routes added after it, so the public ones are listed only when
      // the plugin comes after it; the internal ones never are.
      const paths = Object.keys((app.swagger() as { paths: Record<string, unknown> }).paths).sort()
      const own = ['/limited', '/orders', '/users/{id}']
      t.same(paths, order === 'plugin after the others' ? [...PUBLIC, ...own].sort() : own, 'no internal path in the document')
      if (order === 'plugin after the others') {
        const doc = app.swagger() as { paths: Record<string, { get: { tags: string[], responses: Record<string, { content: Record<string, { schema: object }> }> } }> }
        for (const path of PUBLIC) t.same(doc.paths[path]!.get.tags, ['server-watch'], `${path} under the tag`)
        t.ok(Object.keys(doc.paths['/health']!.get.responses['200']!.content['application/json']!.schema).length > 0, '/health with its response schema')
      }

      // The page, live in Chromium, under helmet's headers and through compress.
      const watched = await openPage(session)
      t.teardown(() => watched.context.close())
      const { page } = watched
      const opened = await page.goto(`${origin}/dashboard`)
      t.equal(opened?.status(), 200)
      if (order === 'plugin after the others') {
        const script = await fetch(`${origin}/dashboard/static/chart.umd.js`, { headers: { 'accept-encoding': 'gzip' } })
        t.equal(script.headers.get('content-encoding'), 'gzip', 'the page\'s files are compressed')
        t.equal(script.headers.get('strict-transport-security')?.startsWith('max-age='), true, 'helmet\'s headers are on them')
        await script.arrayBuffer()
      }
      await page.waitForSelector('#connection[data-mode="live"]', { timeout: 30_000 })
      const first = (await page.getAttribute('#updated', 'datetime')) ?? ''
      await page.waitForFunction((previous) => document.getElementById('updated')?.getAttribute('datetime') !== previous, first, { timeout: 30_000 })
      t.equal(await page.getAttribute('#connection', 'data-mode'), 'live', 'a sample came over the stream')
      await page.waitForFunction(() => [...document.querySelectorAll('#endpoints-body tr')].some((row) => row.textContent?.includes('/limited')))
      const limited = await page.locator('#endpoints-body tr', { hasText: '/limited' }).locator('td').allTextContents()
      t.equal(limited[1]?.trim(), '5', 'the /limited row counts its 429s')
      const codes = await page.evaluate(() => (window as any).Chart.getChart(document.getElementById('chart-status')).data.labels)
      t.ok(codes.includes('429') && codes.includes('400'), `the status chart shows 429 and 400: ${codes}`)
      t.same(watched.problems, [], 'no console errors (helmet\'s CSP included), page errors or failed requests')
    })
  }
})
