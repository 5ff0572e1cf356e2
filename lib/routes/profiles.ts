import { hostname } from 'node:os'
import { performance } from 'node:perf_hooks'
import type { Readable } from 'node:stream'
import { Type, type Static } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Access } from '../access/index.js'
import { FST_SERVER_WATCH_HEAP_TOO_LARGE, FST_SERVER_WATCH_PROFILE_TOO_LARGE, type CodedError } from '../errors.js'
import { sendRefusal } from '../refusal.js'
import { captureAllocationProfile } from '../profiles/allocations.js'
import { captureCpuProfile } from '../profiles/cpu.js'
import { HEAP_ROOM, checkHeapRoom, takeHeapSnapshot, type HeapRoom } from '../profiles/heap.js'
import { Profiler, type Capture, type CaptureKind, type LastCapture } from '../profiles/profiler.js'
import { summarizeAllocationProfile, summarizeCpuProfile, type AllocationSummary, type CpuSummary } from '../profiles/summary.js'

export const DEFAULT_PROFILE_SECONDS = 10
export const MAX_PROFILE_SECONDS = 60

/**
 * The allowed values are listed, not only bounded: Ajv coerces `1e309` to Infinity and then skips `minimum` and
 * `maximum` for a number that is not finite, which let a 1 ms profile and a TimeoutOverflowWarning through.
 */
export const ProfileQuerystring = Type.Object({
  seconds: Type.Integer({
    minimum: 1,
    maximum: MAX_PROFILE_SECONDS,
    enum: Array.from({ length: MAX_PROFILE_SECONDS }, (_, i) => i + 1),
    default: DEFAULT_PROFILE_SECONDS
  })
})

export interface ProfilesOptions {
  dashboardPath: string
  access: Pick<Access, 'hook' | 'via'>
  /** Tests only: a profiler with its own cool-down or size limit, and what the heap check reads. */
  profiler?: Profiler
  heapRoom?: HeapRoom
}

const EXTENSIONS: Record<CaptureKind, string> = { cpu: 'cpuprofile', heap: 'heapsnapshot', allocations: 'heapprofile' }
const LABELS: Record<CaptureKind, string> = { cpu: 'CPU profile', heap: 'heap snapshot', allocations: 'allocation profile' }

/** `web-1-4242-2026-11-30T05-30-00Z.cpuprofile`: which host and process, and when, without characters a file system refuses. */
export function profileFileName (kind: CaptureKind, at: Date, host = hostname(), pid = process.pid): string {
  const safeHost = host.replace(/[^A-Za-z0-9.-]/g, '_').slice(0, 64)
  const stamp = at.toISOString().replace(/\.\d+Z$/, 'Z').replace(/:/g, '-')
  return `${safeHost}-${pid}-${stamp}.${EXTENSIONS[kind]}`
}

const isCoded = (error: unknown): error is CodedError & { statusCode: number } =>
  error instanceof Error && typeof (error as CodedError).code === 'string' &&
  (error as CodedError).code.startsWith('FST_SERVER_WATCH_') && typeof (error as CodedError).statusCode === 'number'

/**
 * `POST {dashboardPath}/api/profile/cpu|allocations?seconds=N` and `POST {dashboardPath}/api/profile/heap`
 * answer the capture as a file; `GET {dashboardPath}/api/profile/last` answers the last capture's summary,
 * which the page shows after its download. Only for callers that `access.hook` lets in, never cross-site.
 */
export function registerProfiles (app: FastifyInstance, opts: ProfilesOptions): void {
  const { access } = opts
  const profiler = opts.profiler ?? new Profiler()
  const heapRoom = opts.heapRoom ?? HEAP_ROOM
  // normalizeOptions took any trailing slash off (lib/options.ts).
  const root = opts.dashboardPath === '/' ? '' : opts.dashboardPath
  const config = { serverWatch: false }

  // preClose: the server waits for open responses before onClose hooks run, and a capture would hold it open.
  app.addHook('preClose', (done) => { profiler.close(); done() })

  function begin (kind: CaptureKind, reply: FastifyReply): Capture | null {
    try {
      return profiler.begin(kind)
    } catch (error) {
      if (!isCoded(error)) throw error
      if (error.statusCode === 429) reply.header('retry-after', String(profiler.retryAfterSeconds()))
      sendRefusal(reply, error)
      return null
    }
  }

  function sendFile (reply: FastifyReply, kind: CaptureKind, file: string, body: string | Readable, bytes: number): FastifyReply {
    return reply
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .header('content-disposition', `attachment; filename="${file}"`)
      .header('content-length', String(bytes))
      .type('application/json')
      .send(body)
  }

  function remember (request: FastifyRequest, kind: CaptureKind, file: string, bytes: number, startedAt: number, summary: LastCapture['summary']): void {
    const durationMs = Math.round(performance.now() - startedAt)
    profiler.last = { kind, file, bytes, capturedAt: new Date().toISOString(), durationMs, summary }
    request.log.info({ profile: kind, client: request.ip, via: access.via(request), durationMs, bytes, file },
      `server-watch: ${LABELS[kind]} captured`)
  }

  /** A timed capture (CPU or allocations): ended early by app.close() or by a client that leaves. */
  function timed<P> (kind: 'cpu' | 'allocations', capture: (ms: number, signal: AbortSignal) => Promise<P>, summarize: (profile: P) => CpuSummary | AllocationSummary) {
    return async (request: FastifyRequest<{ Querystring: Static<typeof ProfileQuerystring> }>, reply: FastifyReply) => {
      const slot = begin(kind, reply)
      if (slot === null) return reply
      const startedAt = performance.now()
      const onClose = () => { if (!reply.raw.writableEnded) slot.abort('the client left') }
      reply.raw.once('close', onClose)
      try {
        const profile = await capture(request.query.seconds * 1000, slot.signal)
        const text = JSON.stringify(profile)
        const bytes = Buffer.byteLength(text)
        if (bytes > profiler.maxBytes) throw new FST_SERVER_WATCH_PROFILE_TOO_LARGE(LABELS[kind], profiler.maxBytes)
        const file = profileFileName(kind, new Date())
        remember(request, kind, file, bytes, startedAt, summarize(profile))
        return sendFile(reply, kind, file, text, bytes)
      } catch (error) {
        if (!isCoded(error)) throw error
        request.log.info({ profile: kind, client: request.ip, reason: error.code }, `server-watch: ${LABELS[kind]} not sent`)
        return sendRefusal(reply, error)
      } finally {
        reply.raw.off('close', onClose)
        slot.end()
      }
    }
  }

  const routeOptions = { config, onRequest: access.hook, schema: { querystring: ProfileQuerystring } }
  type Timed = { Querystring: Static<typeof ProfileQuerystring> }
  app.post<Timed>(`${root}/api/profile/cpu`, routeOptions, timed('cpu', captureCpuProfile, summarizeCpuProfile))
  app.post<Timed>(`${root}/api/profile/allocations`, routeOptions, timed('allocations', captureAllocationProfile, summarizeAllocationProfile))

  app.post(`${root}/api/profile/heap`, { config, onRequest: access.hook }, (request, reply) => {
    const slot = begin('heap', reply)
    if (slot === null) return reply
    const startedAt = performance.now()
    let cooldown = true
    try {
      checkHeapRoom(heapRoom)
      // The slot covers the snapshot only: the download reads a file, and a slow client holds nothing else.
      const snapshot = takeHeapSnapshot(profiler.maxBytes)
      const file = profileFileName('heap', new Date())
      remember(request, 'heap', file, snapshot.bytes, startedAt, null)
      return sendFile(reply, 'heap', file, snapshot.stream, snapshot.bytes)
    } catch (error) {
      if (!isCoded(error)) throw error
      // Refused before it began: nothing ran, so nothing to cool down from.
      if (error instanceof FST_SERVER_WATCH_HEAP_TOO_LARGE) cooldown = false
      request.log.info({ profile: 'heap', client: request.ip, reason: error.code }, 'server-watch: heap snapshot not sent')
      return sendRefusal(reply, error)
    } finally {
      slot.end(cooldown)
    }
  })

  app.get(`${root}/api/profile/last`, { config, onRequest: access.hook }, (_request, reply) => {
    reply.header('cache-control', 'no-store').send({ last: profiler.last })
  })
}
