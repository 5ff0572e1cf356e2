import { PassThrough } from 'node:stream'
import type { HealthSnapshot } from '../schemas/health.js'
import type { HistoryPoint } from '../schemas/history.js'

const HEARTBEAT_MS = 15_000
const RECONNECT_MS = 3_000
// A few frames at 200 routes: room for a client on a slow link to catch up, and a bound on what one holds.
const MAX_STREAM_BUFFERED_BYTES = 256 * 1024
const STALLED_STREAM_MS = 30_000

/** What the hub reads from the plugin's watch (lib/watch.ts): the snapshot, after each sample. */
export interface StreamSource {
  snapshot (): HealthSnapshot
  onSample (listener: (point: HistoryPoint) => void): () => void
}

export interface StreamHub {
  /** A new event stream, or null when `maxStreams` are already open. */
  open (): PassThrough | null
  release (stream: PassThrough): void
  closeAll (): void
}

type Endpoints = HealthSnapshot['application']['endpoints']

const sampleFrame = (snapshot: object, point: HistoryPoint, endpointChanges?: Endpoints) =>
  `event: sample\ndata: ${JSON.stringify({ snapshot, point, endpointChanges })}\n\n`

// JSON.stringify leaves out a key whose value is undefined: the frame's endpointChanges stand in for the table.
const withoutTable = (snapshot: HealthSnapshot) =>
  ({ ...snapshot, application: { ...snapshot.application, endpoints: undefined } })

/**
 * The routes whose figures moved since the previous sample (an endpoint's figures change only with its count), or
 * null when a route left the table (then only the whole table is right).
 */
function changedEndpoints (previous: Map<string, number>, endpoints: Endpoints): Endpoints | null {
  const changes: Endpoints = {}
  let kept = 0
  for (const [route, endpoint] of Object.entries(endpoints)) {
    const count = previous.get(route)
    if (count !== undefined) kept++
    if (count !== endpoint.count) changes[route] = endpoint
  }
  return kept === previous.size ? changes : null
}

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
  /** The number of the last sample whose frame the stream got (-1: none yet). */
  lastSample: number
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
 * The endpoint table is most of a frame (figures: benchmark/README.md, "Scrapes and stream frames"): a stream gets
 * it whole in its first frame (and after a skipped frame), then, in `endpointChanges`, only the routes whose
 * figures moved since the previous sample: the page merges them into the table it holds, so that its table and
 * its cards always show the same sample (issue 30.9).
 */
export function createStreamHub (watch: StreamSource, maxStreams: number, {
  heartbeatMs = HEARTBEAT_MS,
  maxBufferedBytes = MAX_STREAM_BUFFERED_BYTES,
  stalledMs = STALLED_STREAM_MS,
  now = Date.now
}: StreamHubOptions = {}): StreamHub {
  const streams = new Map<PassThrough, StreamState>()
  let unsubscribe: (() => void) | null = null
  let heartbeat: NodeJS.Timeout | null = null
  /** Samples sent since the subscription, and each route's count at the last one. */
  let samples = 0
  let counts = new Map<string, number>()

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
    const endpoints = snapshot.application.endpoints
    const changes = changedEndpoints(counts, endpoints)
    counts = new Map(Object.entries(endpoints).map(([route, endpoint]) => [route, endpoint.count]))
    const previous = samples++
    let full: string | null = null
    let lite: string | null = null
    send((state) => {
      const hasPrevious = state.lastSample === previous
      state.lastSample = samples
      if (changes === null || !hasPrevious) {
        full ??= sampleFrame(snapshot, point)
        return full
      }
      lite ??= sampleFrame(withoutTable(snapshot), point, changes)
      return lite
    })
  }

  const release = (stream: PassThrough) => {
    if (!streams.delete(stream)) return
    stream.end()
    if (streams.size === 0) {
      unsubscribe?.()
      unsubscribe = null
      samples = 0
      counts = new Map()
      if (heartbeat !== null) clearTimeout(heartbeat)
      heartbeat = null
    }
  }

  return {
    open () {
      if (streams.size >= maxStreams) return null
      const stream = new PassThrough()
      streams.set(stream, { behindSince: null, lastSample: -1 })
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
