import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { PassThrough } from 'node:stream'
import fastifyStatic from '@fastify/static'
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Access } from '../access/index.js'
import type { CustomHistoryResponse } from '../custom/history.js'
import type { HistoryPoint, HistoryRange, HistoryResponse } from '../history.js'
import type { AlertsView } from '../schemas/alerts.js'
import type { HealthSnapshot } from '../schemas/health.js'
import { HISTORY_RANGE_ERROR, HistoryRangeSchema } from '../schemas/history.js'

/** What the dashboard reads from the plugin's watch (lib/watch.ts). */
export interface DashboardWatch {
  snapshot (): HealthSnapshot
  history: { query (range: HistoryRange): HistoryResponse }
  onSample (listener: (point: HistoryPoint) => void): () => void
  alertsView (): AlertsView
  customHistory? (): CustomHistoryResponse
  /** Shared mode (lib/shared/watch.ts): one live process's last five minutes, by its id. */
  shared?: { processSeries (id: string): { timestamps: number[], series: Record<string, Array<number | null>> } | null } | null
}

export interface DashboardOptions {
  watch: DashboardWatch
  dashboardPath: string
  /** Named in the page's text where it tells where checks show; false when there is no health route. */
  healthPath: string | false
  access: Pick<Access, 'hook'>
  maxStreams: number
  /** The profile routes exist (lib/routes/profiles.ts): the page shows its Diagnostics section. */
  profiles?: boolean
}

// public/ sits two levels above both lib/routes/dashboard.ts and dist/routes/dashboard.js.
const PUBLIC_DIR = fileURLToPath(new URL('../../public/', import.meta.url))
const CHART_JS_DIR = dirname(createRequire(import.meta.url).resolve('chart.js'))
// The page's files, each with the folder it is served from: nothing else under static/ answers.
const STATIC_FILES: Array<[string, string]> = [
  ['alerts.js', PUBLIC_DIR],
  ['app.js', PUBLIC_DIR],
  ['cards.js', PUBLIC_DIR],
  ['charts.js', PUBLIC_DIR],
  ['custom.js', PUBLIC_DIR],
  ['dom.js', PUBLIC_DIR],
  ['diagnostics.js', PUBLIC_DIR],
  ['profiles.js', PUBLIC_DIR],
  ['processes.js', PUBLIC_DIR],
  ['format.js', PUBLIC_DIR],
  ['app.css', PUBLIC_DIR],
  ['favicon.svg', PUBLIC_DIR],
  ['chart.umd.js', CHART_JS_DIR],
  ['chart.umd.js.map', CHART_JS_DIR]
]
const HEARTBEAT_MS = 15_000
const RECONNECT_MS = 3_000
// A few frames at 200 routes: room for a client on a slow link to catch up, and a bound on what one holds.
const MAX_STREAM_BUFFERED_BYTES = 256 * 1024
const STALLED_STREAM_MS = 30_000
const TABLE_EVERY_SAMPLES = 5

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

/** `/ops` + `/dashboard` => `/ops/dashboard/`: the `<base href>` every relative URL of the page resolves against. */
export function dashboardBase (prefix: string, dashboardPath: string): string {
  const path = (prefix + dashboardPath).replace(/\/{2,}/g, '/')
  return path.endsWith('/') ? path : `${path}/`
}

/** `/ops` + `/health` => `/ops/health`; `/ops` + `/` => `/ops`: the URL a route of this prefix answers on. */
export function routePath (prefix: string, path: string): string {
  return (path === '/' && prefix !== '' ? prefix : prefix + path).replace(/\/{2,}/g, '/')
}

export function registerDashboard (app: FastifyInstance, opts: DashboardOptions): void {
  // Its own encapsulated context, so its hooks and the static plugin touch nothing else of the app.
  app.register(async function serverWatchDashboard (dashboard) {
    const { watch, access, maxStreams } = opts
    const root = opts.dashboardPath === '/' ? '' : opts.dashboardPath.replace(/\/$/, '')
    const base = dashboardBase(dashboard.prefix, root)
    const html = readFileSync(join(PUBLIC_DIR, 'index.html'), 'utf8')
      .replace('<base href="/">', `<base href="${escapeAttribute(base)}">`)
      .replace(healthMention('/health'), healthMention(opts.healthPath !== false && routePath(dashboard.prefix, opts.healthPath)))
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
      const one = watch.shared?.processSeries(process) ?? null
      if (one === null) return reply.code(404).header('cache-control', 'no-store').send({ statusCode: 404, error: 'Not Found', message: `no live process "${process}"` })
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
        reply.code(503).header('cache-control', 'no-store').header('retry-after', '30').send({
          statusCode: 503,
          error: 'Service Unavailable',
          message: `Too many dashboard streams (at most ${maxStreams}); poll api/snapshot instead`
        })
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

export interface StreamHub {
  /** A new event stream, or null when `maxStreams` are already open. */
  open (): PassThrough | null
  release (stream: PassThrough): void
  closeAll (): void
}

const sampleFrame = (snapshot: object, point: HistoryPoint) =>
  `event: sample\ndata: ${JSON.stringify({ snapshot, point })}\n\n`

// JSON.stringify leaves out a key whose value is undefined: the page keeps the table it last got.
const withoutTable = (snapshot: HealthSnapshot) =>
  ({ ...snapshot, application: { ...snapshot.application, endpoints: undefined } })

export interface StreamHubOptions {
  heartbeatMs?: number
  /** Past this many bytes waiting in a stream, frames are skipped for it until its client has read them. */
  maxBufferedBytes?: number
  /** A stream that has been over `maxBufferedBytes` for this long is dropped. */
  stalledMs?: number
  now?: () => number
}

interface StreamState {
  /** Since when the stream has been over maxBufferedBytes (null: keeping up). */
  behindSince: number | null
  /** `totalRequests` when the stream last got the endpoint table (-1: never); the table changes only with it. */
  tableTotal: number
  samplesSinceTable: number
}

/**
 * One `onSample` subscription and one heartbeat timer shared by every open stream, held only while at least
 * one stream is open; each frame is serialised once (twice at most: with and without the endpoint table),
 * whatever the number of streams.
 *
 * Writes respect back-pressure: a client that stops reading stops getting frames once its stream holds
 * `maxBufferedBytes` (the page only needs the latest sample, so skipped frames are not owed), and is dropped
 * after `stalledMs` behind, so that memory per stream stays bounded whatever the client does.
 *
 * The endpoint table is most of a frame (about 130 bytes a route): a stream gets it in its first frame, then only
 * when it changed and at most every TABLE_EVERY_SAMPLES samples; the page keeps the last one it got.
 */
export function createStreamHub (watch: Pick<DashboardWatch, 'snapshot' | 'onSample'>, maxStreams: number, {
  heartbeatMs = HEARTBEAT_MS,
  maxBufferedBytes = MAX_STREAM_BUFFERED_BYTES,
  stalledMs = STALLED_STREAM_MS,
  now = Date.now
}: StreamHubOptions = {}): StreamHub {
  const streams = new Map<PassThrough, StreamState>()
  let unsubscribe: (() => void) | null = null
  let heartbeat: NodeJS.Timeout | null = null

  /** Writes `frame(state)` to every stream that keeps up; drops those behind for stalledMs. */
  const send = (frame: (state: StreamState) => string) => {
    const at = now()
    for (const [stream, state] of streams) {
      if (stream.writableLength < maxBufferedBytes) {
        state.behindSince = null
        stream.write(frame(state))
      } else if (state.behindSince === null) {
        state.behindSince = at
      } else if (at - state.behindSince >= stalledMs) {
        release(stream)
        // destroy, not end: an ended stream would still wait for its client to read what it holds.
        stream.destroy(new Error(`server-watch: dashboard stream dropped: its client read nothing for ${Math.round(stalledMs / 1000)} s`))
      }
    }
  }
  // A comment line keeps proxies from closing an idle connection.
  const beat = () => {
    send(() => ': heartbeat\n\n')
    heartbeat?.refresh()
  }
  const onSample = (point: HistoryPoint) => {
    const snapshot = watch.snapshot()
    const total = snapshot.application.totalRequests
    let full: string | null = null
    let lite: string | null = null
    send((state) => {
      state.samplesSinceTable++
      if (state.tableTotal === -1 || (state.tableTotal !== total && state.samplesSinceTable >= TABLE_EVERY_SAMPLES)) {
        state.tableTotal = total
        state.samplesSinceTable = 0
        full ??= sampleFrame(snapshot, point)
        return full
      }
      lite ??= sampleFrame(withoutTable(snapshot), point)
      return lite
    })
  }

  const release = (stream: PassThrough) => {
    if (!streams.delete(stream)) return
    stream.end()
    if (streams.size === 0) {
      unsubscribe?.()
      unsubscribe = null
      if (heartbeat !== null) clearTimeout(heartbeat)
      heartbeat = null
    }
  }

  return {
    open () {
      if (streams.size >= maxStreams) return null
      const stream = new PassThrough()
      streams.set(stream, { behindSince: null, tableTotal: -1, samplesSinceTable: 0 })
      // Sent at once so that the browser sees the stream open before the first sample.
      stream.write(`retry: ${RECONNECT_MS}\n: connected\n\n`)
      if (unsubscribe === null) unsubscribe = watch.onSample(onSample)
      if (heartbeat === null) heartbeat = setTimeout(beat, heartbeatMs).unref()
      return stream
    },
    release,
    closeAll () {
      for (const stream of [...streams.keys()]) release(stream)
    }
  }
}
