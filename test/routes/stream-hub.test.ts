// The live stream's hub (lib/routes/stream-hub.ts): one subscription and one frame for every stream, bounded
// buffers, heartbeats; on fake timers or with the clock in the test's hands.
import { test } from 'tap'
import { createStreamHub, type StreamSource } from '../../lib/routes/stream-hub.js'
import type { HistoryPoint } from '../../lib/schemas/history.js'
import { fakeClock, turn } from '../helpers/time.js'

test('the stream hub: one subscription while streams are open, one frame for all, heartbeats, nothing left', async (t) => {
  const clock = fakeClock(t)
  const listeners = new Set<(point: HistoryPoint) => void>()
  let snapshots = 0
  const watch: StreamSource = {
    snapshot: () => { snapshots++; return { status: 'healthy', application: { totalRequests: 0, endpoints: {} } } as any },
    onSample (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    }
  }
  const hub = createStreamHub(watch, 2, { heartbeatMs: 30 })
  t.equal(listeners.size, 0, 'no subscription before a stream opens')
  const a = hub.open()!
  const b = hub.open()!
  t.equal(hub.open(), null, 'at most maxStreams')
  t.equal(listeners.size, 1, 'one subscription for every stream')
  const read = (stream: NonNullable<typeof a>) => {
    const chunks: string[] = []
    stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString()))
    return chunks
  }
  const fromA = read(a)
  const fromB = read(b)
  for (const listener of listeners) listener({ timestamp: 1, values: {} as HistoryPoint['values'] })
  t.equal(snapshots, 1, 'the snapshot is built once per sample, whatever the number of streams')
  clock.tick(80)
  await turn()
  for (const chunks of [fromA, fromB]) {
    const text = chunks.join('')
    t.match(text, /^retry: \d+\n: connected\n\n/)
    t.match(text, 'event: sample\ndata: {"snapshot":{"status":"healthy","application":{"totalRequests":0,"endpoints":{}}},"point":{"timestamp":1,"values":{}}}\n\n')
    t.equal(text.split(': heartbeat\n\n').length - 1, 2, 'a heartbeat every 30 ms: at 30 and 60')
  }
  hub.release(a)
  t.equal(listeners.size, 1, 'still subscribed for the other stream')
  t.ok(a.writableEnded, 'a released stream is ended')
  hub.closeAll()
  t.ok(b.writableEnded)
  t.equal(listeners.size, 0, 'unsubscribed when the last stream closes')
  const count = fromB.length
  clock.tick(80)
  await turn()
  t.equal(fromB.length, count, 'no heartbeat after the last stream')
  t.not(hub.open(), null, 'opens again afterwards')
  hub.closeAll()
})

/** A hub over a watch whose snapshot is `frameBytes` of JSON, with the clock in the test's hands. */
function bigFrameHub (options: { frameBytes: number, maxBufferedBytes: number, stalledMs: number }) {
  const listeners = new Set<(point: HistoryPoint) => void>()
  const clock = { now: 0 }
  const filler = 'x'.repeat(options.frameBytes)
  const watch: StreamSource = {
    snapshot: () => ({ status: 'healthy', filler, application: { totalRequests: 0, endpoints: {} } }) as any,
    onSample (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    }
  }
  const hub = createStreamHub(watch, 10, {
    heartbeatMs: 3_600_000,
    maxBufferedBytes: options.maxBufferedBytes,
    stalledMs: options.stalledMs,
    now: () => clock.now
  })
  const sample = (timestamp: number) => {
    clock.now = timestamp
    for (const listener of listeners) listener({ timestamp, values: {} as HistoryPoint['values'] })
  }
  return { hub, listeners, sample }
}

test('a stream client that stops reading does not grow memory: frames are skipped past a bounded buffer', async (t) => {
  const frameBytes = 22_000
  const maxBufferedBytes = 64 * 1024
  const { hub, sample } = bigFrameHub({ frameBytes, maxBufferedBytes, stalledMs: 3_600_000 })
  const stalled = hub.open()!
  const reading = hub.open()!
  let received = 0
  reading.on('data', (chunk: Buffer) => { received += chunk.length })
  for (let i = 1; i <= 2_000; i++) {
    sample(i * 100)
    await new Promise((resolve) => setImmediate(resolve))
  }
  await new Promise((resolve) => setImmediate(resolve))
  const buffered = stalled.writableLength + stalled.readableLength
  // Without back-pressure this would be 2,000 frames: 44 MB.
  t.ok(buffered <= maxBufferedBytes + 2 * frameBytes, `a stream nobody reads holds ${buffered} bytes after 2,000 samples`)
  t.ok(received > 2_000 * frameBytes, 'a stream that reads gets every frame')
  t.notOk(stalled.destroyed, 'behind for less than stalledMs: kept')
  hub.closeAll()
})

test('a stream client that stays behind for stalledMs is dropped; one that catches up gets frames again', async (t) => {
  const { hub, listeners, sample } = bigFrameHub({ frameBytes: 22_000, maxBufferedBytes: 64 * 1024, stalledMs: 30_000 })
  const stalled = hub.open()!
  const errors: Error[] = []
  stalled.on('error', (error) => errors.push(error))
  const slow = hub.open()!
  for (let i = 1; i <= 10; i++) sample(i * 1000)
  t.ok(slow.writableLength > 64 * 1024, 'the slow one is behind too')
  // The slow reader catches up before stalledMs; the stalled one never reads.
  let fromSlow = ''
  slow.on('data', (chunk: Buffer) => { fromSlow += chunk.toString() })
  await new Promise((resolve) => setImmediate(resolve))
  for (let i = 11; i <= 45; i++) sample(i * 1000)
  await new Promise((resolve) => setImmediate(resolve))
  t.ok(stalled.destroyed, 'dropped after stalledMs behind')
  t.match(errors[0]?.message, /read nothing for 30 s/)
  t.notOk(slow.destroyed, 'the reader that caught up is kept')
  t.match(fromSlow, '"timestamp":45000', 'and gets the latest frame')
  t.equal(listeners.size, 1, 'still subscribed for the stream that reads')
  hub.closeAll()
  t.equal(listeners.size, 0)
})

test('issue 30.9: every frame brings the table of its own sample: whole at first, then the routes that moved', async (t) => {
  const listeners = new Set<(point: HistoryPoint) => void>()
  let endpoints: Record<string, { count: number }> = { 'GET /a': { count: 10 }, 'GET /b': { count: 1 } }
  const watch: StreamSource = {
    snapshot: () => ({ status: 'healthy', application: { totalRequests: Object.values(endpoints).reduce((sum, e) => sum + e.count, 0), endpoints } }) as any,
    onSample (listener) {
      listeners.add(listener)
      return () => { listeners.delete(listener) }
    }
  }
  const hub = createStreamHub(watch, 3, { heartbeatMs: 3_600_000 })
  /** What the page does with each frame (public/app.js): a whole table, or the changes merged into the last one. */
  const frames = (stream: NonNullable<ReturnType<typeof hub.open>>) => {
    const list: Array<{ whole: boolean, changes: unknown, total: number, table: Record<string, { count: number }> }> = []
    let text = ''
    let table: Record<string, { count: number }> = {}
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      let end: number
      while ((end = text.indexOf('\n\n')) !== -1) {
        const block = text.slice(0, end)
        text = text.slice(end + 2)
        const data = /^data: (.*)$/m.exec(block)
        if (data === null) continue
        const { snapshot, endpointChanges } = JSON.parse(data[1]!)
        const whole = snapshot.application.endpoints !== undefined
        table = whole ? snapshot.application.endpoints : { ...table, ...endpointChanges }
        list.push({ whole, changes: endpointChanges, total: snapshot.application.totalRequests, table })
      }
    })
    return list
  }
  const sample = async (timestamp: number) => {
    for (const listener of listeners) listener({ timestamp, values: {} as HistoryPoint['values'] })
    await new Promise((resolve) => setImmediate(resolve))
  }
  const sum = (table: Record<string, { count: number }>) => Object.values(table).reduce((total, e) => total + e.count, 0)

  const first = frames(hub.open()!)
  await sample(1)
  await sample(2)
  t.same(first.map((frame) => [frame.whole, frame.changes]), [[true, undefined], [false, {}]], 'the whole table first, then nothing while nothing moved')

  endpoints = { ...endpoints, 'GET /a': { count: 11 } }
  await sample(3)
  t.same(first[2]?.changes, { 'GET /a': { count: 11 } }, 'a route that moved comes in the very next frame, alone')
  endpoints = { ...endpoints, 'GET /c': { count: 1 } }
  const late = frames(hub.open()!)
  await sample(4)
  t.same(first[3]?.changes, { 'GET /c': { count: 1 } }, 'a new route too')
  t.equal(late[0]?.whole, true, 'a stream that joins mid-way gets the whole table in its first frame')
  endpoints = { 'GET /a': { count: 12 } }
  await sample(5)
  t.equal(first[4]?.whole, true, 'a route gone from the table: the whole table again')
  for (const [name, list] of [['first', first], ['late', late]] as const) {
    t.same(list.map((frame) => sum(frame.table)), list.map((frame) => frame.total), `${name}: the table adds up to the cards' total in every frame`)
  }
  hub.closeAll()
})
