// Issue 28 in Chromium (lib/error-groups/, public/errors.js).
// The "Errors" and "This release" cards in a real browser (issue 28): the groups with counts, sparkline and a sample
// stack behind a click, hostile text shown as text; the release and the groups first seen in it.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify from 'fastify'
import { test } from 'tap'
import serverWatch from '../../lib/plugin.js'
import { chromiumMissing, launchBrowser, openPage } from '../helpers/browser.js'

const missing = chromiumMissing()
const HOSTILE = '<img src=x onerror="window.pwned=1"> 17'

test('issue 28: the Errors card and the This release card in a browser', { skip: missing ?? false }, async (t) => {
  const app = Fastify()
  await app.register(serverWatch, { sampleIntervalMs: 3_600_000, release: 'v9.1.0', alerts: false })
  app.get('/users/:id', async () => { throw new Error(HOSTILE) })
  app.get('/orders', async () => { throw new TypeError('order lost') })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  for (let i = 0; i < 3; i++) await app.inject('/users/1')
  await app.inject('/orders')
  const session = await launchBrowser()
  t.teardown(() => session.close())
  const watched = await openPage(session)
  t.teardown(() => watched.context.close())
  const { page } = watched
  const { port } = app.server.address() as { port: number }
  await page.goto(`http://127.0.0.1:${port}/dashboard`)
  await page.waitForFunction(() => document.querySelectorAll('#groups-list li.group').length === 2)
  const groups = await page.$$eval('#groups-list li.group', (items) => items.map((item) => ({
    count: item.querySelector('.group-count')!.textContent,
    name: item.querySelector('.group-name')!.textContent,
    message: item.querySelector('.group-message')!.textContent,
    spark: item.querySelector('svg.spark polyline')?.getAttribute('points')?.split(' ').length ?? 0
  })))
  t.same(groups.map((g) => [g.count, g.name, g.message, g.spark]).sort(), [['1', 'TypeError', 'order lost', 60], ['3', 'Error', HOSTILE, 60]].sort())
  t.equal(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned), undefined, 'server text is never markup')
  // A click opens the sample stack.
  await page.click('#groups-list li.group:has-text("order lost") summary')
  const stack = await page.textContent('#groups-list li.group:has-text("order lost") .group-stack')
  t.match(stack, /^TypeError: order lost\n {4}at /)
  t.equal(await page.isVisible('#groups-list li.group:has-text("order lost") .group-stack'), true)
  t.equal(await page.textContent('#release-current'), 'v9.1.0')
  t.same(await page.$$eval('#release-new-errors li', (items) => items.map((item) => item.textContent).sort()),
    [`Error: ${HOSTILE} (3)`, 'TypeError: order lost (1)'])
  // The release's start is marked on the time charts.
  const marked = await page.evaluate(() => (window as unknown as { Chart: { getChart (id: string): { options: { plugins: Record<string, { markers?: Array<{ label: string }> }> } } } })
    .Chart.getChart('chart-latency').options.plugins.serverWatchReleases?.markers?.map((m) => m.label))
  t.same(marked, ['v9.1.0'])
  t.same(watched.problems, [])
})

test('issue 28: the processes card shows each process\'s release during a rolling deploy', { skip: missing ?? false }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-errors-e2e-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const old = Fastify()
  await old.register(serverWatch, { sampleIntervalMs: 3_600_000, release: 'v1', shared: { dir, name: 'shop' }, alerts: false })
  t.teardown(() => old.close())
  await old.ready()
  await old.serverWatch.refresh()
  const next = Fastify()
  await next.register(serverWatch, { sampleIntervalMs: 3_600_000, release: 'v2', shared: { dir, name: 'shop' }, alerts: false })
  t.teardown(() => next.close())
  await next.listen({ port: 0, host: '127.0.0.1' })
  await next.serverWatch.refresh()
  await next.serverWatch.refresh()
  const session = await launchBrowser()
  t.teardown(() => session.close())
  const watched = await openPage(session)
  t.teardown(() => watched.context.close())
  const { page } = watched
  await page.goto(`http://127.0.0.1:${(next.server.address() as { port: number }).port}/dashboard`)
  await page.waitForFunction(() => document.querySelectorAll('#processes-body tr').length === 2)
  const releases = await page.$$eval('#processes-body tr', (rows) => rows.map((row) => row.children[2]!.textContent).sort())
  t.same(releases, ['v1', 'v2'])
  t.same(watched.problems, [])
})
