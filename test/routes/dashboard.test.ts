import { test } from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import serverWatch from '../../lib/plugin.js'
import { dashboardBase } from '../../lib/routes/dashboard.js'
import { HISTORY_RANGES } from '../../lib/schemas/history.js'
import { chromiumMissing, launchBrowser, openPage, type BrowserSession, type WatchedPage } from '../helpers/browser.js'
import { sleep, startDemo, startTraffic, XSS_PATH, type Demo } from '../helpers/demo.js'
import { until } from '../helpers/time.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

// ---------------------------------------------------------------------------------------------------------------
// HTTP: routes, headers, validation, the live stream

test('the page, its files and its JSON API answer with safe headers', async (t) => {
  const demo = await startDemo(t)
  const { app } = demo
  await app.serverWatch.refresh()

  for (const url of ['/dashboard', '/dashboard/']) {
    const page = await app.inject(url)
    t.equal(page.statusCode, 200, url)
    t.match(page.headers['content-type'], /^text\/html/)
    t.match(page.body, '<base href="/dashboard/">', 'base href for relative URLs')
    t.equal(page.headers['cache-control'], 'no-store')
    t.equal(page.headers['x-content-type-options'], 'nosniff')
    t.equal(page.headers['x-robots-tag'], 'noindex, nofollow')
    const csp = String(page.headers['content-security-policy'])
    t.match(csp, "default-src 'self'")
    t.match(csp, "script-src 'self'")
    t.notMatch(csp, 'unsafe-inline')
    t.notMatch(csp, 'unsafe-eval')
    t.notMatch(page.body, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script')
    t.notMatch(page.body, /\sstyle=/, 'no inline style attribute')
    t.notMatch(page.body, /https?:\/\//, 'no absolute URL: nothing leaves the origin')
  }

  const files: Array<[string, RegExp]> = [
    ['static/app.js', /javascript/],
    ['static/cards.js', /javascript/],
    ['static/charts.js', /javascript/],
    ['static/dom.js', /javascript/],
    ['static/diagnostics.js', /javascript/],
    ['static/profiles.js', /javascript/],
    ['static/format.js', /javascript/],
    ['static/app.css', /text\/css/],
    ['static/favicon.svg', /image\/svg\+xml/],
    ['static/chart.umd.js', /javascript/]
  ]
  for (const [file, type] of files) {
    const response = await app.inject(`/dashboard/${file}`)
    t.equal(response.statusCode, 200, file)
    t.match(response.headers['content-type'], type, `${file} type`)
    t.equal(response.headers['x-content-type-options'], 'nosniff')
    t.ok(response.headers.etag, `${file} has an etag`)
  }
  const chartJs = await app.inject('/dashboard/static/chart.umd.js')
  t.match(chartJs.body.slice(0, 300), /Chart\.js v4/, 'Chart.js from the package')
  for (const file of ['index.html', 'chart.js', 'chart.cjs', '../package.json', 'helpers.js']) {
    t.equal((await app.inject(`/dashboard/static/${file}`)).statusCode, 404, `static/${file} is not served`)
  }

  const snapshot = await app.inject('/dashboard/api/snapshot')
  t.equal(snapshot.statusCode, 200)
  t.equal(snapshot.headers['cache-control'], 'no-store')
  t.equal(snapshot.headers['x-content-type-options'], 'nosniff')
  t.equal(snapshot.json().instance.pid, process.pid)

  for (const [range, stepMs] of [['5m', 200], ['1h', 10_000], ['24h', 60_000]] as const) {
    const history = await app.inject(`/dashboard/api/history?range=${range}`)
    t.equal(history.statusCode, 200, range)
    t.equal(history.headers['cache-control'], 'no-store')
    const body = history.json()
    t.equal(body.range, range)
    t.equal(body.stepMs, stepMs)
    t.equal(body.series.rss.length, body.timestamps.length, 'one value per timestamp')
  }
  t.equal((await app.inject('/dashboard/api/history')).json().range, '5m', 'default range')
  const bad = await app.inject('/dashboard/api/history?range=2h')
  t.equal(bad.statusCode, 400, 'unknown range')
  t.equal(bad.headers['cache-control'], 'no-store')
})

test('the page\'s range buttons are rendered from the history\'s ranges, and public/ keeps no copy of them', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(serverWatch, { sampleIntervalMs: 200 })
  const page = await app.inject('/dashboard')
  const buttons = [...page.body.matchAll(/<button type="button" role="radio" data-range="([^"]+)" data-span-ms="(\d+)" data-step-ms="(\d+)" aria-checked="(true|false)">([^<]+)<\/button>/g)]
    .map(([, range, spanMs, stepMs, checked, label]) => [range, Number(spanMs), Number(stepMs), checked, label])
  t.same(buttons, [
    ['5m', 300_000, 0, 'true', '5 min'],
    ['1h', 3_600_000, 10_000, 'false', '1 hour'],
    ['24h', 86_400_000, 60_000, 'false', '24 hours']
  ])
  t.same(buttons.map(([range]) => range), Object.keys(HISTORY_RANGES), 'in the order of lib/schemas/history.ts')
  const publicDir = join(ROOT, 'public')
  for (const file of readdirSync(publicDir).filter((name) => /\.(js|html)$/.test(name))) {
    t.notMatch(readFileSync(join(publicDir, file), 'utf8'), /['"](5m|1h|24h)['"]/, `public/${file} names no range`)
  }
})

test('the page\'s charts and theme export functions only: the cards hand them data and never reach into their state', async (t) => {
  const publicDir = join(ROOT, 'public')
  for (const file of ['charts.js', 'theme.js']) {
    const source = readFileSync(join(publicDir, file), 'utf8')
    const exported = [...source.matchAll(/^export (?:(function|const|let|var) (\w+)(?: = (\())?)/gm)]
      .map(([, kind, name, arrow]) => `${kind === 'function' || arrow === '(' ? 'function' : kind} ${name}`)
    t.same(exported.filter((item) => !item.startsWith('function ')), [], `public/${file} exports no state`)
  }
  const cards = readFileSync(join(publicDir, 'cards.js'), 'utf8')
  t.match(cards, "import { ensureDatabaseChart, renderEndpointChart, renderStatusChart } from './charts.js'", 'what the cards use of the charts')
})

test('under a register prefix every URL of the page moves with it', async (t) => {
  const demo = await startDemo(t, { prefix: '/ops' })
  const page = await demo.app.inject('/ops/dashboard')
  t.equal(page.statusCode, 200)
  t.match(page.body, '<base href="/ops/dashboard/">')
  t.equal((await demo.app.inject('/ops/dashboard/static/app.js')).statusCode, 200)
  t.equal((await demo.app.inject('/ops/dashboard/api/snapshot')).statusCode, 200)
  t.equal((await demo.app.inject('/dashboard')).statusCode, 404, 'nothing outside the prefix')
  t.equal(dashboardBase('/ops', '/status/board'), '/ops/status/board/')
  t.equal(dashboardBase('', '/'), '/')
})

test('dashboardPath moves the page and the router\'s ignoreTrailingSlash is honoured', async (t) => {
  for (const [dashboardPath, page, base] of [['/board/', '/board', '/board/'], ['/', '/', '/']] as const) {
    for (const ignoreTrailingSlash of [false, true]) {
      const app = Fastify({ routerOptions: { ignoreTrailingSlash } })
      t.teardown(() => app.close())
      await app.register(serverWatch, { dashboardPath, healthPath: '/healthz' })
      const name = `${dashboardPath}, ignoreTrailingSlash ${ignoreTrailingSlash}`
      for (const url of new Set([page, base])) {
        const response = await app.inject(url)
        t.equal(response.statusCode, 200, `${name}: ${url}`)
        t.match(response.body, `<base href="${base}">`)
      }
      t.equal((await app.inject(`${base}static/app.js`)).statusCode, 200, `${name}: files under it`)
      t.equal((await app.inject(`${base}api/history?range=1h`)).statusCode, 200, `${name}: API under it`)
    }
  }
})

test('the dashboard\'s own requests are not counted in the application metrics', async (t) => {
  const demo = await startDemo(t)
  const { app } = demo
  await app.inject('/users/7')
  for (const url of ['/dashboard', '/dashboard/', '/dashboard/static/app.js', '/dashboard/static/chart.umd.js',
    '/dashboard/api/snapshot', '/dashboard/api/history?range=1h', '/dashboard/api/history?range=nope']) {
    await app.inject(url)
  }
  const application = app.serverWatch.snapshot().application
  t.equal(application.totalRequests, 1)
  t.same(Object.keys(application.endpoints), ['GET /users/:id'])
})

test('the dashboard honours authorize', async (t) => {
  const demo = await startDemo(t, { authorize: (request) => request.headers['x-token'] === 'secret' })
  for (const url of ['/dashboard', '/dashboard/static/app.js', '/dashboard/api/snapshot', '/dashboard/api/stream']) {
    const denied = await demo.app.inject(url)
    t.equal(denied.statusCode, 403, url)
  }
  const allowed = await demo.app.inject({ url: '/dashboard/api/snapshot', headers: { 'x-token': 'secret' } })
  t.equal(allowed.statusCode, 200)
})

interface EventStream {
  status: number
  headers: http.IncomingHttpHeaders
  /** Resolves with the next `event: sample` frame's data. */
  nextSample (): Promise<any>
  body: string
  ended: Promise<void>
  close (): void
}

function openEventStream (url: string): Promise<EventStream> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: { accept: 'text/event-stream' } }, (response) => {
      response.setEncoding('utf8')
      let buffer = ''
      const waiters: Array<(data: any) => void> = []
      const samples: any[] = []
      const stream: EventStream = {
        status: response.statusCode ?? 0,
        headers: response.headers,
        body: '',
        nextSample: () => new Promise((resolve) => {
          const sample = samples.shift()
          if (sample !== undefined) resolve(sample)
          else waiters.push(resolve)
        }),
        ended: new Promise((resolve) => response.once('close', resolve)),
        close: () => request.destroy()
      }
      response.on('error', () => {}) // 'aborted' when the test closes it
      response.on('data', (chunk: string) => {
        stream.body += chunk
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const frame = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          if (!frame.startsWith('event: sample\n')) continue
          const data = JSON.parse(frame.slice(frame.indexOf('data: ') + 6))
          const waiter = waiters.shift()
          if (waiter) waiter(data)
          else samples.push(data)
        }
      })
      resolve(stream)
    })
    request.on('error', reject)
  })
}

test('the live stream sends every sample, caps concurrent streams and ends on app.close()', async (t) => {
  const demo = await startDemo(t, { maxStreams: 2 })
  const first = await openEventStream(`${demo.dashboard}api/stream`)
  t.equal(first.status, 200)
  t.match(first.headers['content-type'], /^text\/event-stream/)
  t.equal(first.headers['cache-control'], 'no-store')
  t.equal(first.headers['x-content-type-options'], 'nosniff')
  t.equal(first.headers.connection, 'close', 'not kept alive: app.close() does not wait for keepAliveTimeout')
  await demo.hit('GET', '/users/1')
  await first.nextSample()
  const one = await first.nextSample()
  const two = await first.nextSample()
  t.equal(one.snapshot.instance.pid, process.pid, 'a snapshot in every frame')
  t.equal(typeof one.point.timestamp, 'number')
  t.ok(two.point.timestamp > one.point.timestamp, 'one frame per sample, in order')
  t.equal(typeof two.point.values.rss, 'number')
  t.match(first.body, /^retry: \d+\n/, 'tells the browser how soon to reconnect')

  const second = await openEventStream(`${demo.dashboard}api/stream`)
  t.equal(second.status, 200)
  const third = await openEventStream(`${demo.dashboard}api/stream`)
  t.equal(third.status, 503, 'past maxStreams')
  await third.ended
  t.same(JSON.parse(third.body), {
    statusCode: 503,
    code: 'FST_SERVER_WATCH_TOO_MANY_STREAMS',
    error: 'Service Unavailable',
    message: 'too many live dashboard streams (at most 2); poll api/snapshot instead'
  }, 'the coded error, as every other refusal')
  t.equal(third.headers['retry-after'], '30')

  second.close()
  await second.ended
  // The server learns of the close on its own turn: retried until the place is free (the tap timeout ends a leak).
  let again = await openEventStream(`${demo.dashboard}api/stream`)
  while (again.status === 503) {
    await again.ended
    await sleep(20)
    again = await openEventStream(`${demo.dashboard}api/stream`)
  }
  t.equal(again.status, 200, 'a closed stream frees its place')

  // Were the open streams not ended by close(), this would wait forever (and tap's timeout would say so).
  await demo.app.close()
  await Promise.all([first.ended, again.ended])
  t.pass('app.close() ends open streams')
})

// ---------------------------------------------------------------------------------------------------------------
// The page in a real browser

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
    await sleep(1200)
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
    const before = process.env.NODE_ENV
    process.env.NODE_ENV = 'production'
    let demo: Demo
    try {
      demo = await startDemo(t, { token })
    } finally {
      if (before === undefined) delete process.env.NODE_ENV
      else process.env.NODE_ENV = before
    }
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
    await waitForUpdate(page, first, 8000)
    t.pass('updates arrive by polling')
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

  // The pictures themselves are taken by `npm run screenshots` (test/screenshots.ts): the suite writes no files.
  t.test('desktop and phone, light and dark: live, filled, no console problems', async (t) => {
    const demo = await startDemo(t, {}, true)
    const stopTraffic = startTraffic(demo, 45)
    t.teardown(stopTraffic)
    await demo.hit('GET', '/fail')
    await demo.hit('POST', '/login', {})
    const shots = [
      { name: 'desktop', width: 1280, height: 800, scale: 1, mobile: false },
      { name: 'phone', width: 390, height: 844, scale: 2, mobile: true }
    ]
    for (const shot of shots) {
      for (const colorScheme of ['light', 'dark'] as const) {
        const watched = await openPage(session, { ...shot, colorScheme })
        const { page } = watched
        await page.goto(demo.dashboard)
        await page.waitForSelector('#connection[data-mode="live"]')
        await page.waitForFunction(() => document.querySelectorAll('#endpoints-body tr').length > 3)
        t.same(watched.problems, [], `${shot.name} ${colorScheme}: no console problems`)
        await watched.context.close()
      }
    }
  })
})
