import { PassThrough } from 'node:stream'
import type { HealthSnapshot } from '../schemas/health.js'
import type { HistoryPoint } from '../schemas/history.js'

const HEARTBEAT_MS = 15_000
const RECONNECT_MS = 3_000
// A few frames at 200 routes: room for a client on a slow link to catch up, and a bound on what one holds.
const MAX_STREAM_BUFFERED_BYTES = 256 * 1024
const STALLED_STREAM_MS = 30_000
const TABLE_EVERY_SAMPLES = 5

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
 * The endpoint table is most of a frame (figures: benchmark/README.md, "Scrapes and stream frames"): a stream gets
 * it in its first frame, then only when it changed and at most every TABLE_EVERY_SAMPLES samples; the page keeps
 * the last one it got.
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
