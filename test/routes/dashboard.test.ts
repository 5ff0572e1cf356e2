import { test } from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import http from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Fastify from 'fastify'
import serverWatch from '../../lib/plugin.js'
import { dashboardBase } from '../../lib/routes/dashboard.js'
import { HISTORY_RANGES } from '../../lib/schemas/history.js'
import { sleep, startDemo } from '../helpers/demo.js'
import { until } from '../helpers/time.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

// ---------------------------------------------------------------------------------------------------------------
// HTTP: routes, headers, validation, the live stream (the page in a real browser: test/e2e/dashboard.test.ts)

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

  let ended = 0
  for (const stream of [first, again]) stream.ended.then(() => { ended++ }, () => {})
  await demo.app.close()
  // close() resolves when the server has let go of every socket; the client sees each end on a later turn.
  await until(() => ended === 2, 'app.close() to end the open streams')
  t.equal(ended, 2, 'app.close() ends both open streams')
})
