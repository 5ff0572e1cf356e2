import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import { buildApp } from '../helpers/app.js'
import { chromiumMissing, launchBrowser, openPage } from '../helpers/browser.js'
import { mongoClient, mongoServer } from './harness.js'

const missing = chromiumMissing()
const SECRET = 'carol.secret@example.com'
const HOSTILE = '/<img src=x onerror=alert(1)>'

t.test('issue 29: the dashboard shows where the time goes: a stacked bar per route, slow queries, N+1 and hosts', { skip: missing ?? false }, async (t) => {
  const server = await mongoServer(t)
  const client = await mongoClient(t, server.uri)
  const target = http.createServer((_request, response) => response.end('ok'))
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { target.closeAllConnections(); target.close(() => resolve()) }))
  const { port } = target.address() as AddressInfo
  const app = await buildApp({ mongo: client, breakdown: true, sampleIntervalMs: 3_600_000 })
  t.teardown(() => app.close())
  const people = client.db('shop').collection('people')
  app.get('/orders/:id', async () => {
    for (let i = 0; i < 6; i++) await people.findOne({ email: SECRET, i })
    return (await fetch(`http://127.0.0.1:${port}/`)).text()
  })
  app.get(HOSTILE, async () => people.findOne({ email: SECRET }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  for (const url of ['/orders/1', '/orders/2', encodeURI(HOSTILE), '/']) t.equal((await app.inject(url)).statusCode, 200)
  await app.serverWatch.refresh()

  const session = await launchBrowser()
  t.teardown(() => session.close())
  const watched = await openPage(session)
  t.teardown(() => watched.context.close())
  const { page } = watched
  await page.goto(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}/dashboard`)
  await page.waitForSelector('#breakdown:not([hidden]) #breakdown-routes-body tr')

  const routes = await page.$$eval('#breakdown-routes-body tr', (rows) => rows.map((row) => ({
    cells: [...row.querySelectorAll('td')].map((cell) => cell.textContent),
    widths: [...row.querySelectorAll('.time-seg')].map((segment) => Number.parseFloat((segment as HTMLElement).style.width))
  })))
  const orders = routes.find((route) => route.cells[0] === 'GET /orders/:id')!
  t.ok(orders, JSON.stringify(routes))
  t.equal(orders.cells[1], '2', 'requests')
  t.match(orders.cells[3], /^6 · /, 'database calls per request')
  t.match(orders.cells[4], /^1 · /, 'outbound calls per request')
  t.equal(orders.cells[5], '2', 'N+1 requests')
  t.equal(orders.widths.length, 3)
  t.ok(Math.abs(orders.widths.reduce((a, b) => a + b, 0) - 100) < 0.1, `app + database + outbound = 100%: ${orders.widths}`)
  t.ok(routes.some((route) => route.cells[0] === `GET ${HOSTILE}`), 'hostile text shown as text')
  t.equal(await page.$$eval('#breakdown img', (images) => images.length), 0, 'and never as markup')

  const slow = await page.$$eval('#breakdown-slow-body tr', (rows) => rows.map((row) => row.textContent))
  t.ok(slow.length > 0)
  t.ok(slow.some((text) => text!.includes('{"find":"people","filter":{"email":"?","i":"?"}')), slow.join('\n'))
  t.match(await page.textContent('#breakdown-nplusone-list'), /GET \/orders\/:id runs .* 6 times per request, in 2 requests/)
  t.same(await page.$$eval('#breakdown-hosts-body tr td', (cells) => cells.slice(0, 3).map((cell) => cell.textContent)), [`127.0.0.1:${port}`, '2', '0'])
  t.notOk((await page.content()).includes(SECRET), 'no value on the page')
  t.same(watched.problems, [])
})
