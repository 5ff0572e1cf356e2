/**
 * The dashboard page in a real browser (headless Chromium, test/helpers/browser.ts) against the demo app: the
 * HTTP side of the routes is tested in test/routes/dashboard.test.ts. Skipped locally without Chromium; on CI a
 * missing browser fails.
 */
import { test } from 'tap'
import { readFileSync } from 'node:fs'
import { chromiumMissing, DASHBOARD_SHOTS, launchBrowser, openLiveDashboard, openPage, type BrowserSession, type WatchedPage } from '../helpers/browser.js'
import { startDemo, startTraffic, XSS_PATH, type Demo } from '../helpers/demo.js'
import { withEnv } from '../helpers/env.js'
import { until } from '../helpers/time.js'

const missing = chromiumMissing()

interface ChartReport { id: string, type: string, visible: boolean, datasets: Array<{ label: string, points: number }> }

async function chartReport (page: WatchedPage['page']): Promise<ChartReport[]> {
  return page.evaluate(() => {
    const Chart = (window as any).Chart
    return [...document.querySelectorAll('canvas')].map((canvas) => {
      const chart = Chart.getChart(canvas)
      return {
        id: canvas.id,
        type: chart?.config.type ?? 'none',
        visible: canvas.checkVisibility(),
        datasets: (chart?.data.datasets ?? []).map((dataset: { label: string, data: unknown[] }) => ({
          label: dataset.label,
          points: dataset.data.filter((value) => typeof value === 'number').length
        }))
      }
    })
  })
}

async function waitForUpdate (page: WatchedPage['page'], after: string, timeout = 30_000): Promise<string> {
  await page.waitForFunction((previous) => document.getElementById('updated')?.getAttribute('datetime') !== previous, after, { timeout })
  return (await page.getAttribute('#updated', 'datetime')) ?? ''
}

/** Requests outside the dashboard: its own URL with or without the trailing slash, and what is under it. */
function offOrigin (requests: string[], dashboard: string): string[] {
  return requests.filter((url) => !url.startsWith(dashboard) && url !== dashboard.slice(0, -1))
}

/** "0.42 ms", "19 ms", "1.20 s" back to milliseconds. */
function parseDuration (text: string): number {
  const match = /^([\d.]+) (ms|s)$/.exec(text.trim())
  if (match === null) return -1
  return Number(match[1]) * (match[2] === 's' ? 1000 : 1)
}

test('the dashboard in a browser', { skip: missing ?? false }, async (t) => {
  const session: BrowserSession = await launchBrowser()
  t.teardown(() => session.close())

  t.test('loads clean, fills every chart, updates live in place, and shows hostile text as text', async (t) => {
    const demo = await startDemo(t, {}, true)
    // Without random errors, so that the ten recent errors keep the ones made here.
    const stopTraffic = startTraffic(demo, 40, false)
    t.teardown(stopTraffic)
    t.equal(await demo.hit('GET', XSS_PATH), 500)
    t.equal(await demo.hit('GET', '/fail'), 500)
    // Enough samples under traffic for every chart to have a line.
    await until(() => demo.app.serverWatch.history('5m').timestamps.length >= 7, 'seven samples')

    const watched = await openPage(session)
    t.teardown(() => watched.context.close())
    const { page } = watched
    await page.goto(demo.dashboard)
    await page.waitForSelector('#connection[data-mode="live"]')

    // Every chart on show has data.
    await page.waitForFunction(() => document.querySelectorAll('#endpoints-body tr').length > 3)
    const charts = await chartReport(page)
    t.same(charts.map((chart) => chart.id).sort(), [
      'chart-cpu', 'chart-database', 'chart-endpoints', 'chart-latency', 'chart-memory', 'chart-status', 'chart-throughput'
    ])
    for (const chart of charts) {
      t.ok(chart.visible, `${chart.id} is on show`)
      t.not(chart.type, 'none', `${chart.id} has a chart`)
      t.ok(chart.datasets.some((dataset) => dataset.points > 0), `${chart.id} has data: ${JSON.stringify(chart.datasets)}`)
    }
    const points = (id: string, label: string) => charts.find((chart) => chart.id === id)?.datasets.find((dataset) => dataset.label === label)?.points ?? 0
    for (const [id, label] of [['chart-latency', 'p95'], ['chart-throughput', 'Requests/s'], ['chart-memory', 'RSS'],
      ['chart-memory', 'Heap used'], ['chart-cpu', 'Process CPU'], ['chart-cpu', 'Loop delay p99'], ['chart-database', 'Ping']]) {
      t.ok(points(id!, label!) > 3, `${id} ${label} has a line (${points(id!, label!)} points)`)
    }
    const text = (selector: string) => page.locator(selector).innerText()
    t.match(await text('#app-total'), /^\d[\d,.\s]*$/, 'request count')
    t.match(await text('#mem-rss'), /^\d+(\.\d)? (MiB|GiB)$/, 'bytes in human units')
    t.match(await text('#app-p95'), /^\d+(\.\d+)? (ms|s)$/, 'durations in human units')
    t.equal(await text('#ov-node'), process.version)
    t.equal(await page.locator('#db-status').textContent(), 'healthy')
    t.equal(await page.locator('#checks-body tr').count(), 2, 'both checks listed')
    t.notOk(await page.locator('#checks-empty').isVisible())

    // Live: a new sample arrives over the stream, into the same chart objects.
    await page.evaluate(() => {
      const Chart = (window as any).Chart
      ;(window as any).__chartsBefore = [...document.querySelectorAll('canvas')].map((canvas) => Chart.getChart(canvas))
      ;(window as any).__instancesBefore = Object.keys(Chart.instances).length
      ;(window as any).__lastTimestampBefore = Chart.getChart(document.getElementById('chart-throughput')).data.labels.at(-1)
    })
    let updated = (await page.getAttribute('#updated', 'datetime')) ?? ''
    for (let i = 0; i < 3; i++) updated = await waitForUpdate(page, updated)
    const identity = await page.evaluate(() => {
      const Chart = (window as any).Chart
      const before = (window as any).__chartsBefore
      return {
        same: [...document.querySelectorAll('canvas')].every((canvas, i) => Chart.getChart(canvas) === before[i]),
        instances: Object.keys(Chart.instances).length,
        instancesBefore: (window as any).__instancesBefore,
        advanced: Chart.getChart(document.getElementById('chart-throughput')).data.labels.at(-1) > (window as any).__lastTimestampBefore
      }
    })
    t.ok(identity.same, 'every canvas keeps its chart object across updates')
    t.equal(identity.instances, identity.instancesBefore, 'no chart created by an update')
    t.ok(identity.advanced, 'the charts moved on with the live samples')
    t.equal(watched.requests.filter((url) => url.includes('api/history')).length, 1, 'live samples need no refetch')
    t.ok(await page.locator('#endpoints-body tr').count() > 3, 'the endpoint table stays through frames that leave it out')

    // Hostile text from an error's message and URL is shown as text and runs nothing.
    const errorsText = await text('#errors-list')
    t.match(errorsText, '<img/src=x/onerror=window.__pwned=1><script>window.__pwned=2</script>', 'the path as text')
    t.match(errorsText, 'Bad input <img src=x onerror="window.__pwned=3"> and <script>window.__pwned=4</script>', 'the message as text')
    t.match(errorsText, 'Upstream inventory service timed out')
    t.equal(await page.evaluate(() => (window as any).__pwned), undefined, 'no injected script ran')
    t.equal(await page.locator('main img, main script').count(), 0, 'no element made from server text')

    // Sorting the endpoint table.
    await page.click('button[data-sort="p95"]')
    t.equal(await page.getAttribute('button[data-sort="p95"] >> xpath=..', 'aria-sort'), 'descending')
    const p95s = (await page.locator('#endpoints-body tr td:nth-child(5)').allTextContents()).map(parseDuration)
    t.ok(p95s.length > 3 && p95s.every((value, i) => i === 0 || value <= p95s[i - 1]!), `sorted by p95: ${p95s.join(', ')}`)

    // Another range: one history read, same charts.
    const history1h = page.waitForResponse((response) => response.url().includes('api/history?range=1h'))
    await page.click('button[data-range="1h"]')
    t.equal((await (await history1h).json()).stepMs, 10_000, '1 hour in 10 s steps')
    t.equal(await page.getAttribute('button[data-range="1h"]', 'aria-checked'), 'true')
    const history5m = page.waitForResponse((response) => response.url().includes('api/history?range=5m'))
    await page.click('button[data-range="5m"]')
    await history5m

    // The refresh button.
    const before = watched.requests.length
    await page.click('#refresh')
    await page.waitForFunction(() => document.getElementById('refresh')?.getAttribute('aria-busy') === 'false')
    t.ok(watched.requests.slice(before).some((url) => url.endsWith('api/snapshot')), 'refresh reads the snapshot')

    // A switch to the dark scheme recolours the same charts in place.
    const lineColour = () => page.evaluate(() => (window as any).Chart.getChart(document.getElementById('chart-latency')).data.datasets[0].borderColor)
    t.equal(await lineColour(), '#2563eb')
    await page.emulateMedia({ colorScheme: 'dark' })
    await page.waitForFunction(() => (window as any).Chart.getChart(document.getElementById('chart-latency')).data.datasets[0].borderColor === '#60a5fa')
    t.ok(await page.evaluate(() => [...document.querySelectorAll('canvas')].every((canvas, i) => (window as any).Chart.getChart(canvas) === (window as any).__chartsBefore[i])), 'same charts after the scheme change')
    await page.emulateMedia({ colorScheme: 'light' })
    // The media query's change event reaches the page asynchronously: wait for it, then check.
    await page.waitForFunction(() => (window as any).Chart.getChart(document.getElementById('chart-latency')).data.datasets[0].borderColor === '#2563eb')
    t.equal(await lineColour(), '#2563eb')

    t.same(offOrigin(watched.requests, demo.dashboard), [], 'every request stays under the dashboard URL')
    t.same(watched.problems, [], 'no console errors, page errors or failed requests')
    t.equal(await page.evaluate(() => (window as any).__pwned), undefined)
  })

  t.test('pauses while the tab is hidden and resumes when it shows', async (t) => {
    const demo = await startDemo(t)
    const watched = await openPage(session)
    t.teardown(() => watched.context.close())
    const { page } = watched
    await page.goto(demo.dashboard)
    await page.waitForSelector('#connection[data-mode="live"]')
    const setHidden = (hidden: boolean) => page.evaluate((hidden) => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => hidden })
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => hidden ? 'hidden' : 'visible' })
      document.dispatchEvent(new Event('visibilitychange'))
    }, hidden)
    await setHidden(true)
    t.equal(await page.getAttribute('#connection', 'data-mode'), 'paused')
    const frozen = await page.getAttribute('#updated', 'datetime')
    const requestsWhileHidden = watched.requests.length
    // Two samples taken by the server while hidden: each would have reached a live page.
    const samples = demo.app.serverWatch.history('5m').timestamps.length
    await until(() => demo.app.serverWatch.history('5m').timestamps.length >= samples + 2, 'two samples while hidden')
    await page.evaluate(() => new Promise((resolve) => requestAnimationFrame(resolve)))
    t.equal(await page.getAttribute('#updated', 'datetime'), frozen, 'no update while hidden')
    t.equal(watched.requests.length, requestsWhileHidden, 'no request while hidden')
    await setHidden(false)
    await page.waitForSelector('#connection[data-mode="live"]')
    await waitForUpdate(page, frozen ?? '')
    t.ok(watched.requests.slice(requestsWhileHidden).some((url) => url.includes('api/history')), 'history re-read on return')
    t.same(watched.problems, [])

    // The server goes away with the page open: app.close() is not held up by the stream, and the page says so.
    await demo.app.close()
    await page.waitForSelector('#connection[data-mode="offline"]', { timeout: 30_000 })
    t.match(await page.locator('#banner').textContent(), 'Cannot reach the server')
  })

  t.test('behind a token in production: the browser is challenged, then opens the live page with Basic credentials', async (t) => {
    const token = 'browser-test-token-0123456789'
    const demo: Demo = await withEnv({ NODE_ENV: 'production' }, () => startDemo(t, { token }))
    await demo.hit('GET', '/users/7')

    // Without credentials: the challenge that makes a browser show its login prompt. Headless, with nobody to type,
    // the browser cancels the prompt and the navigation fails on the challenge.
    const stranger = await openPage(session)
    t.teardown(() => stranger.context.close())
    await t.rejects(stranger.page.goto(demo.dashboard), /ERR_INVALID_AUTH_CREDENTIALS/)
    const challenge = await fetch(demo.dashboard, { headers: { accept: 'text/html' } })
    t.equal(challenge.status, 401)
    t.equal(challenge.headers.get('www-authenticate'), 'Basic realm="server-watch", charset="UTF-8"')
    t.notMatch(await challenge.text(), /<html/i, 'nothing of the page')

    // With the token as the Basic password (any user name): the page, its API and its live stream all work.
    const watched = await openPage(session, { httpCredentials: { username: 'ops', password: token } })
    t.teardown(() => watched.context.close())
    const { page } = watched
    const opened = await page.goto(demo.dashboard)
    t.equal(opened?.status(), 200)
    await page.waitForSelector('#connection[data-mode="live"]')
    const first = (await page.getAttribute('#updated', 'datetime')) ?? ''
    await waitForUpdate(page, first)
    await page.waitForFunction(() => [...document.querySelectorAll('#endpoints-body tr')].some((row) => row.textContent?.includes('/users/:id')))
    t.ok(watched.requests.some((url) => url.endsWith('/api/stream')), 'the event stream was opened')
    t.same(watched.problems, [], 'no console errors, page errors or failed requests')

    // A wrong password is refused like none.
    const guesser = await openPage(session, { httpCredentials: { username: 'ops', password: 'wrong-token-0123456789' } })
    t.teardown(() => guesser.context.close())
    t.equal((await guesser.page.goto(demo.dashboard))?.status(), 401)
  })

  t.test('alerts: the banner, the threshold on its chart, and the timeline of transitions', async (t) => {
    const demo = await startDemo(t, {
      alerts: {
        defaults: false,
        rules: [
          { name: 'rss-over-1-byte', metric: 'memory.process.rss', above: 1, forMs: 0, severity: 'unhealthy' },
          { name: 'never', metric: 'eventLoop.delayMs.p99', above: 60_000, forMs: 0 }
        ]
      }
    })
    const watched = await openPage(session)
    t.teardown(() => watched.context.close())
    const { page } = watched
    await page.goto(demo.dashboard)
    await page.waitForSelector('#alerts:not([hidden])')
    t.equal(await page.getAttribute('#alerts', 'data-severity'), 'unhealthy')
    t.match(await page.locator('#alerts-list').innerText(), /rss-over-1-byte: memory\.process\.rss = \d+ \(above 1\)/)
    t.equal(await page.locator('#alerts-list li').count(), 1, 'only the rule that fires')
    await page.waitForFunction(() => document.querySelectorAll('#alerts-transitions li').length > 0)
    t.match(await page.locator('#alerts-transitions').innerText(), /fired \(unhealthy\)\s+rss-over-1-byte/)
    t.ok(await page.locator('#alerts-empty').isHidden())
    t.match(await page.locator('#alerts-rules').innerText(), /2 rules: rss-over-1-byte .*; never \(eventLoop\.delayMs\.p99 above 60000/)
    const thresholds = await page.evaluate(() => {
      const Chart = (window as any).Chart
      const of = (id: string) => Chart.getChart(document.getElementById(id)).options.plugins.serverWatchThresholds?.lines ?? []
      return { memory: of('chart-memory'), cpu: of('chart-cpu'), latency: of('chart-latency') }
    })
    t.match(thresholds.memory, [{ value: 1, axis: 'y', severity: 'unhealthy', label: 'rss-over-1-byte (above 1)' }])
    t.match(thresholds.cpu, [{ value: 60_000, axis: 'y1', severity: 'degraded' }])
    t.same(thresholds.latency, [])
    t.equal(await page.getAttribute('#status', 'data-status'), 'unhealthy', 'the status pill follows the alert')
    // Every card is a card of the grid: none sits inside another (a lost closing tag once nested three of them).
    t.equal(await page.locator('.card .card').count(), 0, 'no card inside another')
    t.same(watched.problems, [])
  })

  t.test('Diagnostics: a 1 s CPU profile downloads a .cpuprofile and fills the top-functions table', async (t) => {
    const token = 'browser-test-token-0123456789'
    const demo = await startDemo(t, { token, profiles: true })
    await demo.hit('GET', '/reports/daily')
    await demo.hit('GET', '/users/7')
    const watched = await openPage(session, { httpCredentials: { username: 'ops', password: token } })
    t.teardown(() => watched.context.close())
    const { page } = watched
    await page.goto(demo.dashboard)
    await page.waitForSelector('#diagnostics:not([hidden])')
    t.equal(await page.textContent('#profile-cpu'), 'CPU profile (10 s)')
    await page.selectOption('#profile-seconds', '1')
    t.equal(await page.textContent('#profile-cpu'), 'CPU profile (1 s)')
    t.equal(await page.textContent('#profile-allocations'), 'Allocation profile (1 s)')

    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.click('#profile-cpu')])
    t.match(download.suggestedFilename(), /^[A-Za-z0-9._-]+-\d+-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.cpuprofile$/)
    const profile = JSON.parse(readFileSync((await download.path())!, 'utf8'))
    t.ok(profile.nodes.length > 0 && profile.samples.length > 0, 'the downloaded file is a CPU profile')
    await page.waitForSelector('#profile-summary-wrap:not([hidden]) #profile-summary-body tr')
    const rows = await page.$$eval('#profile-summary-body tr', (trs) => trs.map((tr) => [...tr.children].map((td) => td.textContent)))
    t.ok(rows.length > 0 && rows.length <= 10, `${rows.length} top functions`)
    t.ok(rows.every((cells) => cells.length === 4 && /ms|s$/.test(cells[2] ?? '') && /%$/.test(cells[3] ?? '')), 'function, where, self time, share')
    t.match(await page.textContent('#profile-status'), /^CPU profile saved as .+\.cpuprofile/)
    t.equal(await page.isEnabled('#profile-cpu'), true, 'the buttons work again')

    // The heap snapshot asks first, and says why.
    t.equal(await page.isVisible('#heap-confirm'), false)
    await page.click('#profile-heap')
    t.match(await page.textContent('#heap-confirm'), /pauses this process.*as much memory again as the heap/s)
    await page.click('#heap-confirm-no')
    t.equal(await page.isVisible('#heap-confirm'), false, 'cancelled: nothing taken')

    // The slowest requests and the leak signs cards are filled from the snapshot.
    await page.waitForSelector('#slowest-body tr')
    t.match(await page.textContent('#slowest-body'), /\/reports\/daily/)
    t.not(await page.textContent('#heap-trend-verdict'), '–')
    t.same(watched.problems, [], 'no console errors, page errors or failed requests')
  })

  t.test('falls back to polling when the stream is refused', async (t) => {
    const demo = await startDemo(t, { maxStreams: 0 })
    const watched = await openPage(session)
    t.teardown(() => watched.context.close())
    const { page } = watched
    await page.goto(demo.dashboard)
    await page.waitForSelector('#connection[data-mode="polling"]')
    const first = (await page.getAttribute('#updated', 'datetime')) ?? ''
    const polls = watched.requests.filter((url) => url.endsWith('api/snapshot')).length
    const next = await waitForUpdate(page, first)
    t.ok(Date.parse(next) > Date.parse(first), `a later sample arrived: ${first} then ${next}`)
    t.ok(watched.requests.filter((url) => url.endsWith('api/snapshot')).length > polls, 'by reading api/snapshot again')
    // The refused stream shows in the console as a failed resource load; nothing else may.
    t.same(watched.problems.filter((problem) => !/503/.test(problem)), [])
  })

  t.test('works under a register prefix', async (t) => {
    const demo = await startDemo(t, { prefix: '/ops' })
    await demo.hit('GET', '/users/3')
    t.equal(demo.dashboard, `${demo.origin}/ops/dashboard/`)
    const watched = await openPage(session)
    t.teardown(() => watched.context.close())
    const { page } = watched
    await page.goto(`${demo.origin}/ops/dashboard`)
    await page.waitForSelector('#connection[data-mode="live"]')
    await page.waitForFunction(() => document.querySelectorAll('#endpoints-body tr').length > 0)
    const charts = await chartReport(page)
    for (const chart of charts.filter((chart) => chart.visible)) {
      t.ok(chart.datasets.some((dataset) => dataset.points > 0), `${chart.id} has data`)
    }
    t.ok(await page.locator('#db-empty').isVisible(), 'says that no database is configured')
    t.match(await page.locator('#db-empty').innerText(), 'No database configured')
    t.same(offOrigin(watched.requests, demo.dashboard), [], 'every request under /ops/dashboard/')
    t.same(watched.problems, [])
  })

  t.test('page details at 1280x800: p99 drawn over p95, the checks table whole, the real health path (issue 15.10)', async (t) => {
    const demo = await startDemo(t, {
      prefix: '/ops',
      checks: {
        'payments-queue-depth-and-age': { check: () => { throw new Error('queue depth 1200 is over the limit of 1000 for payments, oldest 95 s') }, required: false },
        'search-index-freshness': () => true,
        cache: () => true
      }
    })
    const stopTraffic = startTraffic(demo, 30, false)
    t.teardown(stopTraffic)
    const watched = await openPage(session, { width: 1280, height: 800 })
    t.teardown(() => watched.context.close())
    const { page } = watched
    await page.goto(demo.dashboard)
    await page.waitForSelector('#connection[data-mode="live"]')
    await page.waitForFunction(() => document.querySelectorAll('#checks-body tr').length === 3)

    // The order Chart.js draws the latency lines in, seen by a plugin on the next redraw.
    const latency = await page.evaluate(() => {
      const Chart = (window as any).Chart
      const chart = Chart.getChart(document.getElementById('chart-latency'))
      const drawn: string[] = []
      Chart.register({ id: 'drawOrder', afterDatasetDraw: (drawing: any, args: { index: number }) => { if (drawing === chart) drawn.push(chart.data.datasets[args.index].label) } })
      chart.update('none')
      Chart.unregister(Chart.registry.getPlugin('drawOrder'))
      return { drawn, legend: chart.legend.legendItems.map((item: { text: string }) => item.text) }
    })
    t.same(latency.drawn, ['p50', 'p95', 'p99'], 'p99 is drawn last, over p95, so it shows when they are equal')
    t.same(latency.legend, ['p50', 'p95', 'p99'], 'the legend keeps the listed order')

    const table = await page.evaluate(() => {
      const wrap = document.querySelector('#checks .table-wrap')!
      const lastHeader = document.querySelector('#checks-table th:last-child')!
      return {
        scrollWidth: wrap.scrollWidth,
        clientWidth: wrap.clientWidth,
        lastRight: lastHeader.getBoundingClientRect().right,
        wrapRight: wrap.getBoundingClientRect().right
      }
    })
    t.ok(table.scrollWidth <= table.clientWidth, `the checks table fits its card: ${table.scrollWidth} <= ${table.clientWidth}`)
    t.ok(table.lastRight <= table.wrapRight, 'its last column is not cut off')
    t.equal(await page.getAttribute('#checks-body tr:first-child .route', 'title'), 'cache', 'a cut name is whole in its title')
    t.same(watched.problems, [])

    // No checks, under a prefix and another healthPath; over polling, where a container's limits can be fed in.
    const bare = await startDemo(t, { prefix: '/ops', healthPath: '/status', checks: {}, maxStreams: 0 })
    const polled = await openPage(session, { width: 1280, height: 800 })
    t.teardown(() => polled.context.close())
    await polled.page.route('**/api/snapshot', async (route) => {
      const snapshot = await (await route.fetch()).json()
      snapshot.memory.process.limit = { bytes: 512 * 1024 * 1024, source: 'cgroup-v2' }
      Object.assign(snapshot.cpu, { limitCores: 0.5, limitSource: 'cgroup-v2' })
      await route.fulfill({ json: snapshot })
    })
    await polled.page.goto(bare.dashboard)
    await polled.page.waitForSelector('#checks-empty:not([hidden])')
    t.match(await polled.page.locator('#checks-empty').innerText(), 'to see them here and in /ops/status.', 'the health route as served')
    await polled.page.waitForFunction(() => document.getElementById('mem-percent-label')?.textContent !== 'Share of RAM')
    t.equal(await polled.page.locator('#mem-percent-label').textContent(), 'Share of 512 MiB limit')
    t.equal(await polled.page.locator('#cpu-process-label').textContent(), 'Process CPU of 0.5 cores quota')

    const host = await startDemo(t, { healthPath: false, checks: {} })
    const plain = await openPage(session, { width: 1280, height: 800 })
    t.teardown(() => plain.context.close())
    await plain.page.goto(host.dashboard)
    await plain.page.waitForSelector('#checks-empty:not([hidden])')
    t.match(await plain.page.locator('#checks-empty').innerText(), /to see them here\.$/, 'no health route: none named')
    await plain.page.waitForSelector('#connection[data-mode="live"]')
    const limit = host.app.serverWatch.snapshot().memory.process.limit
    t.equal(await plain.page.locator('#mem-percent-label').textContent(), limit.source === 'host' ? 'Share of RAM' : `Share of ${limit.bytes / 1024 / 1024} MiB limit`)
  })

  t.test('issue 30.9: the page as a person sees it: one sample in table and cards, keys that tell series apart, nothing cut, no empty half-cards', async (t) => {
    const demo = await startDemo(t, {}, true)
    const stopTraffic = startTraffic(demo, 40)
    t.teardown(stopTraffic)
    for (let i = 0; i < 14; i++) await demo.hit('GET', i % 2 === 0 ? '/fail' : `/xss/${i}`)
    await until(() => demo.app.serverWatch.history('5m').timestamps.length >= 5, 'five samples')

    const desktop = await openPage(session, { width: 1280, height: 800 })
    t.teardown(() => desktop.context.close())
    const { page } = desktop
    await page.goto(demo.dashboard)
    await page.waitForSelector('#connection[data-mode="live"]')
    await page.waitForFunction(() => document.querySelectorAll('#endpoints-body tr').length > 3)

    // Table and cards from one frame: under traffic, every live frame's table adds up to its cards.
    const figures = () => page.evaluate(() => {
      const number = (text: string | null | undefined) => Number((text ?? '').replace(/[^\d]/g, ''))
      const rows = [...document.querySelectorAll('#endpoints-body tr')]
      return {
        table: rows.reduce((sum, row) => sum + number(row.children[1]?.textContent), 0),
        tableErrors: rows.reduce((sum, row) => sum + number(row.children[2]?.textContent), 0),
        total: number(document.getElementById('app-total')?.textContent),
        errors: number(document.getElementById('app-errors')?.textContent?.split(' ')[0])
      }
    })
    let updated = (await page.getAttribute('#updated', 'datetime')) ?? ''
    const seen: Array<Awaited<ReturnType<typeof figures>>> = []
    for (let i = 0; i < 8; i++) {
      updated = await waitForUpdate(page, updated)
      seen.push(await figures())
    }
    t.ok(seen.at(-1)!.total > seen[0]!.total, `requests came in meanwhile: ${seen[0]!.total} then ${seen.at(-1)!.total}`)
    t.same(seen.map((frame) => frame.table), seen.map((frame) => frame.total), 'the endpoint counts add up to the Requests card, frame after frame')
    t.same(seen.map((frame) => frame.tableErrors), seen.map((frame) => frame.errors), 'and their errors to the server errors')

    // Every line chart's legend keys differ: by colour or by dash.
    const legends = await page.evaluate(() => {
      const Chart = (window as any).Chart
      return [...document.querySelectorAll('canvas')].map((canvas) => Chart.getChart(canvas)).filter((chart) => chart?.config.type === 'line')
        .map((chart) => ({ id: chart.canvas.id, keys: chart.legend.legendItems.map((item: any) => ({ text: item.text, key: `${item.strokeStyle} ${JSON.stringify(item.lineDash ?? [])} ${item.pointStyle}` })) }))
    })
    for (const { id, keys } of legends) {
      t.equal(new Set(keys.map((key: { key: string }) => key.key)).size, keys.length, `${id}: no two legend keys alike ${JSON.stringify(keys)}`)
    }
    const latency = legends.find((legend) => legend.id === 'chart-latency')!.keys
    t.not(latency[1].key.split(' ')[1], latency[2].key.split(' ')[1], 'p95 and p99 have different line patterns, so equal values still show two lines')

    // The recent errors end on a whole item; the rest scrolls.
    await page.waitForFunction(() => document.querySelectorAll('#errors-list li').length >= 10)
    const errors = await page.evaluate(() => {
      const list = document.getElementById('errors-list')!
      const box = list.getBoundingClientRect()
      const items = [...list.children].map((item) => item.getBoundingClientRect())
      return {
        scrolls: list.scrollHeight > list.clientHeight,
        cut: items.filter((item) => item.top < box.bottom - 1 && item.bottom > box.bottom + 1).length,
        shown: items.filter((item) => item.bottom <= box.bottom + 1).length
      }
    })
    t.equal(errors.cut, 0, `no error cut mid-line (${errors.shown} shown whole${errors.scrolls ? ', the rest scrolls' : ''})`)
    t.ok(errors.shown >= 3, 'several errors in view')

    // No card beside much empty space: what a card holds reaches near its bottom.
    const emptiness = await page.evaluate(() => [...document.querySelectorAll('main .card')].filter((card) => card.checkVisibility()).map((card) => {
      const inner = card.getBoundingClientRect().bottom - parseFloat(getComputedStyle(card).paddingBottom)
      const content = Math.max(...[...card.children].filter((child) => child.checkVisibility()).map((child) => child.getBoundingClientRect().bottom))
      return { id: card.id || card.querySelector('h2')?.textContent, empty: Math.round(inner - content) }
    }))
    const roomy = emptiness.filter((card) => card.empty > 120)
    t.same(roomy, [], `no card with more than 120 px empty below its content: ${JSON.stringify(emptiness)}`)
    t.same(desktop.problems, [])

    // On a phone (375 px), no text is cut by overflow: what ends in an ellipsis has its whole text in a title.
    const phone = await openPage(session, { width: 375, height: 812, mobile: true, scale: 2 })
    t.teardown(() => phone.context.close())
    await phone.page.goto(demo.dashboard)
    await phone.page.waitForSelector('#connection[data-mode="live"]')
    await phone.page.waitForFunction(() => document.getElementById('app-rps-sub')?.textContent?.startsWith('peak'))
    const cut = await phone.page.evaluate(() => [...document.querySelectorAll('body *')].filter((element) => {
      if (!(element instanceof HTMLElement) || !element.checkVisibility() || element.closest('[title]') !== null) return false
      if (element.closest('.table-wrap, .error-list, canvas') !== null) return false
      const style = getComputedStyle(element)
      const clips = style.textOverflow === 'ellipsis' || style.overflowX === 'hidden' || style.overflowX === 'clip'
      return clips && element.textContent !== '' && element.scrollWidth > element.clientWidth + 1
    }).map((element) => `${element.id || element.className}: "${element.textContent}" (${element.scrollWidth} > ${element.clientWidth})`))
    t.same(cut, [], 'no caption cut at 375 px')
    t.equal(await phone.page.evaluate(() => document.documentElement.scrollWidth), 375, 'no sideways scrolling')
    const widths = await phone.page.evaluate(() => [...new Set([...document.querySelectorAll('main .card')].filter((card) => card.checkVisibility()).map((card) => Math.round(card.getBoundingClientRect().width)))])
    t.same(widths, [375 - 2 * 12], 'one column: every card as wide as the page less its margins')
    t.same(phone.problems, [])
  })

  // The pictures themselves are taken by `npm run screenshots` (test/screenshots.ts): the suite writes no files.
  t.test('desktop and phone, light and dark: live, filled, no console problems', async (t) => {
    const demo = await startDemo(t, {}, true)
    const stopTraffic = startTraffic(demo, 45)
    t.teardown(stopTraffic)
    await demo.hit('GET', '/fail')
    await demo.hit('POST', '/login', {})
    for (const shot of DASHBOARD_SHOTS) {
      for (const colorScheme of ['light', 'dark'] as const) {
        const watched = await openLiveDashboard(session, demo.dashboard, { ...shot, colorScheme })
        t.same(watched.problems, [], `${shot.name} ${colorScheme}: no console problems`)
        await watched.context.close()
      }
    }
  })
})
