import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fastifyStatic from '@fastify/static'
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Access } from '../access/index.js'
import type { CustomHistoryResponse } from '../custom/history.js'
import type { AlertsView } from '../schemas/alerts.js'
import { FST_SERVER_WATCH_TOO_MANY_STREAMS, FST_SERVER_WATCH_UNKNOWN_PROCESS } from '../errors.js'
import { sendRefusal } from '../refusal.js'
import { createStreamHub, type StreamSource } from './stream-hub.js'
import { DEFAULT_HISTORY_RANGE, HISTORY_RANGE_ERROR, HISTORY_RANGES, HistoryRangeSchema, type HistoryRange, type HistoryResponse } from '../schemas/history.js'

/** What the dashboard reads from the plugin's watch (lib/watch.ts). */
export interface DashboardWatch extends StreamSource {
  history: { query (range: HistoryRange): HistoryResponse }
  alertsView (): AlertsView
  customHistory? (): CustomHistoryResponse
  /** One live process's last five minutes, by its id (shared mode; null for an unknown id or with one process). */
  fleet?: { processSeries (id: string): { timestamps: number[], series: Record<string, Array<number | null>> } | null }
}

export interface DashboardOptions {
  watch: DashboardWatch
  dashboardPath: string
  /** Named in the page's text where it tells where checks show; false when there is no health route. */
  healthPath: string | false
  access: Pick<Access, 'hook'>
  maxStreams: number
  /** The profile routes exist (lib/routes/profiles.ts): the page shows its Diagnostics section. */
  profiles: boolean
}

// public/ sits two levels above both lib/routes/dashboard.ts and dist/routes/dashboard.js.
const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url))
const CHART_JS_DIR = dirname(createRequire(import.meta.url).resolve('chart.js'))
// The page's files, each with the folder it is served from: nothing else under static/ answers.
const STATIC_FILES: Array<[string, string]> = [
  ['alerts.js', PUBLIC_DIR],
  ['app.js', PUBLIC_DIR],
  ['breakdown.js', PUBLIC_DIR],
  ['cards.js', PUBLIC_DIR],
  ['charts.js', PUBLIC_DIR],
  ['custom.js', PUBLIC_DIR],
  ['dom.js', PUBLIC_DIR],
  ['errors.js', PUBLIC_DIR],
  ['diagnostics.js', PUBLIC_DIR],
  ['profiles.js', PUBLIC_DIR],
  ['processes.js', PUBLIC_DIR],
  ['ranges.js', PUBLIC_DIR],
  ['theme.js', PUBLIC_DIR],
  ['format.js', PUBLIC_DIR],
  ['app.css', PUBLIC_DIR],
  ['favicon.svg', PUBLIC_DIR],
  ['chart.umd.js', CHART_JS_DIR],
  ['chart.umd.js.map', CHART_JS_DIR]
]

// The page needs nothing from another origin and runs no inline script or style.
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'self'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'"
].join('; ')

const HistoryQuerystring = Type.Object({
  range: HistoryRangeSchema,
  /** Shared mode: one live process's id (`processes[].id` in the snapshot) instead of the fleet; 5 minutes only. */
  process: Type.Optional(Type.String({ maxLength: 200 }))
})

const escapeAttribute = (value: string): string =>
  value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

/** Where the page says checks show besides itself: the health route as this app serves it, or nothing. */
const healthMention = (path: string | false): string =>
  path === false ? '' : `<span id="checks-health"> and in <code>${escapeAttribute(path)}</code></span>`

/**
 * The page's range buttons, from the history's ranges: the page reads its ranges from them (public/ranges.js), so
 * that the ranges are defined once, in lib/schemas/history.ts.
 */
const RANGE_BUTTONS = (Object.entries(HISTORY_RANGES) as Array<[HistoryRange, typeof HISTORY_RANGES[HistoryRange]]>)
  .map(([range, { spanMs, stepMs, label }]) =>
    `\n        <button type="button" role="radio" data-range="${range}" data-span-ms="${spanMs}" data-step-ms="${stepMs}" aria-checked="${range === DEFAULT_HISTORY_RANGE}">${escapeAttribute(label)}</button>`)
  .join('') + '\n      '

/** `/ops` + `/dashboard` => `/ops/dashboard/`: the `<base href>` every relative URL of the page resolves against. */
export function dashboardBase (prefix: string, dashboardPath: string): string {
  const path = (prefix + dashboardPath).replace(/\/{2,}/g, '/')
  return path.endsWith('/') ? path : `${path}/`
}

/** `/ops` + `/health` => `/ops/health`; `/ops` + `/` => `/ops`: the URL a route of this prefix answers on. */
function routePath (prefix: string, path: string): string {
  return (path === '/' && prefix !== '' ? prefix : prefix + path).replace(/\/{2,}/g, '/')
}

export function registerDashboard (app: FastifyInstance, opts: DashboardOptions): void {
  // Its own encapsulated context, so its hooks and the static plugin touch nothing else of the app.
  app.register(async function serverWatchDashboard (dashboard) {
    const { watch, access, maxStreams } = opts
    // normalizeOptions took any trailing slash off (lib/options.ts).
    const root = opts.dashboardPath === '/' ? '' : opts.dashboardPath
    const base = dashboardBase(dashboard.prefix, root)
    const html = readFileSync(join(PUBLIC_DIR, 'index.html'), 'utf8')
      .replace('<base href="/">', `<base href="${escapeAttribute(base)}">`)
      .replace(healthMention('/health'), healthMention(opts.healthPath !== false && routePath(dashboard.prefix, opts.healthPath)))
      .replace('id="range"></div>', `id="range">${RANGE_BUTTONS}</div>`)
      .replace('<meta name="server-watch-profiles" content="off">', `<meta name="server-watch-profiles" content="${opts.profiles === true ? 'on' : 'off'}">`)
    const config = { serverWatch: false }

    dashboard.addHook('onRequest', access.hook)
    dashboard.addHook('onSend', (request, reply, payload, done) => {
      reply.header('content-security-policy', CSP)
      reply.header('x-content-type-options', 'nosniff')
      reply.header('x-robots-tag', 'noindex, nofollow')
      reply.header('referrer-policy', 'no-referrer')
      // The page and the API are live data; the static files set their own (revalidated with an etag).
      if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
      done(null, payload)
    })

    // serve: false and one route per file rather than @fastify/static's wildcard route: its routes cannot carry
    // `config`, so they would be counted, and a wildcard would expose the rest of chart.js's dist folder.
    // The reply.sendFile it decorates stays in this context.
    await dashboard.register(fastifyStatic, { root: PUBLIC_DIR, serve: false, index: false })
    for (const [file, folder] of STATIC_FILES) {
      dashboard.get(`${root}/static/${file}`, { config }, (request, reply) => reply.sendFile(file, folder))
    }

    const sendPage = (reply: FastifyReply) => {
      reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(html)
    }
    dashboard.get(root === '' ? '/' : root, { config }, (request, reply) => sendPage(reply))
    const ignoresTrailingSlash = Boolean(
      (dashboard.initialConfig as { routerOptions?: { ignoreTrailingSlash?: boolean } }).routerOptions?.ignoreTrailingSlash ??
      dashboard.initialConfig.ignoreTrailingSlash
    )
    if (root !== '' && !ignoresTrailingSlash) dashboard.get(`${root}/`, { config }, (request, reply) => sendPage(reply))

    dashboard.get(`${root}/api/snapshot`, { config }, (request, reply) => {
      reply.header('cache-control', 'no-store').send(watch.snapshot())
    })

    dashboard.get(`${root}/api/alerts`, { config }, (request, reply) => {
      reply.header('cache-control', 'no-store').send(watch.alertsView())
    })

    if (watch.customHistory !== undefined) {
      const customHistory = watch.customHistory
      dashboard.get(`${root}/api/custom-history`, { config }, (request, reply) => {
        reply.header('cache-control', 'no-store').send(customHistory())
      })
    }

    dashboard.get<{ Querystring: Static<typeof HistoryQuerystring> }>(`${root}/api/history`, {
      config,
      schema: { querystring: HistoryQuerystring },
      // range is the one property this schema checks (process is any string, at most 200 characters).
      schemaErrorFormatter: (errors) => new Error(errors.some((error) => error.instancePath === '/process') ? 'querystring/process must be a process id' : HISTORY_RANGE_ERROR)
    }, (request, reply) => {
      const { range, process } = request.query
      if (process === undefined) return reply.header('cache-control', 'no-store').send(watch.history.query(range))
      const fleet = watch.history.query('5m')
      const one = watch.fleet?.processSeries(process) ?? null
      if (one === null) return sendRefusal(reply, new FST_SERVER_WATCH_UNKNOWN_PROCESS(process))
      const series = Object.fromEntries(Object.keys(fleet.series).map((name) => [name, one.series[name] ?? one.timestamps.map(() => null)]))
      reply.header('cache-control', 'no-store').send({ range: '5m', stepMs: fleet.stepMs, timestamps: one.timestamps, series })
    })

    const streams = createStreamHub(watch, maxStreams)
    dashboard.addHook('preClose', (done) => {
      // preClose, not onClose: the server waits for open responses before onClose hooks run.
      streams.closeAll()
      done()
    })

    dashboard.get(`${root}/api/stream`, { config }, (request, reply) => {
      const stream = streams.open()
      if (stream === null) {
        sendRefusal(reply.header('retry-after', '30'), new FST_SERVER_WATCH_TOO_MANY_STREAMS(maxStreams))
        return
      }
      request.raw.once('close', () => streams.release(stream))
      // An event stream ends only when its client leaves or app.close() ends it, so its connection is never reused.
      // Kept alive, a connection whose stream finished just after app.close() closed the idle ones would hold the
      // server open until keepAliveTimeout (5 s; seen in the browser test). HTTP/2 has no connection header.
      if (request.raw.httpVersionMajor === 1) reply.header('connection', 'close')
      reply
        .header('content-type', 'text/event-stream; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('x-accel-buffering', 'no')
        .send(stream)
    })
  })
}
