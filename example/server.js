// The demo app that `npm start` runs: a small shop API watched by fastify-server-watch.
//   PORT (3000; 0 picks a free one), HOST (localhost), MONGODB_URI (optional: watch a real MongoDB),
//   DEMO_TRAFFIC=0 (no background load), LOG_LEVEL (fatal: the demo's errors are on purpose), SERVER_WATCH_TOKEN
//   (then the token, and only it, opens the board, and the demo sets profiles: true for its Diagnostics: CPU,
//   allocation and heap captures), DEMO_LEAK=1 (leaks on purpose: see Leak signs)
import Fastify from 'fastify'
import serverWatch from 'fastify-server-watch'
import { startTraffic } from './traffic.js'

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? 'localhost'
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const app = Fastify({
  logger: { level: process.env.LOG_LEVEL ?? 'fatal' }, // LOG_LEVEL=info shows request logs
  // On close, connections with no request in flight are closed at once (a browser's keep-alive ones included).
  forceCloseConnections: 'idle'
})

let mongo = null
if (process.env.MONGODB_URI) {
  // Imported only when asked for: the plugin itself never loads the driver.
  const { MongoClient } = await import('mongodb')
  // No connect(): the driver connects on the first ping or query, so the demo starts even while the database is
  // down, and /health says so (503) until it comes back.
  mongo = new MongoClient(process.env.MONGODB_URI, { monitorCommands: true, serverSelectionTimeoutMS: 2000 })
  app.addHook('onClose', async () => { await mongo.close() }) // the app owns its client; the plugin never closes it
}

await app.register(serverWatch, {
  mongo: mongo ?? undefined,
  // Captures (CPU, allocations, heap) are never on by default; the demo turns them on with a token.
  profiles: process.env.SERVER_WATCH_TOKEN !== undefined,
  checks: {
    // A custom check the way an app would write one: is a dependency reachable, within checkTimeoutMs?
    'payment-provider': { check: async () => { await sleep(5 + Math.random() * 20) }, required: false }
  },
  // "Tell me and drain this instance when the event loop p99 stays over 500 ms for 20 s": GET /api/demo/block-loop
  // blocks the loop for 600 ms; call it for half a minute to see the banner, /health 503 and /health/ready fail.
  alerts: {
    rules: [{ name: 'slow-loop', metric: 'eventLoop.delayMs.p99', above: 500, forMs: 20_000, severity: 'unhealthy' }]
  }
})

const users = new Map([[1, { id: 1, name: 'Ada' }], [2, { id: 2, name: 'Grace' }], [3, { id: 3, name: 'Linus' }]])

app.get('/api/users/:id', {
  schema: { params: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] } }
}, async (request, reply) => {
  const user = users.get(request.params.id)
  if (user === undefined) return reply.code(404).send({ message: `user ${request.params.id} not found` })
  return user
})

app.get('/api/reports/slow', async () => {
  await sleep(50 + Math.random() * 350)
  return { rows: 42 }
})

app.get('/api/checkout', async () => {
  if (Math.random() < 0.5) throw new Error('payment provider timed out')
  return { ok: true }
})

app.post('/api/orders', {
  schema: {
    body: {
      type: 'object',
      required: ['item', 'quantity'],
      properties: { item: { type: 'string', minLength: 1 }, quantity: { type: 'integer', minimum: 1 } }
    }
  }
}, async (request, reply) => reply.code(201).send({ id: Date.now(), ...request.body }))

// Blocks the event loop on purpose, to fire the demo's slow-loop alert (see the alerts option above).
app.get('/api/demo/block-loop', async () => {
  const end = Date.now() + 600
  while (Date.now() < end);
  return { blockedMs: 600 }
})

if (mongo !== null) {
  const items = mongo.db(process.env.MONGODB_DB ?? 'server_watch_demo').collection('items')
  app.get('/api/db/items', async () => ({ items: await items.find({}, { projection: { _id: 0 } }).limit(20).toArray() }))
  app.post('/api/db/items', {
    schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string', maxLength: 100 } } } }
  }, async (request, reply) => {
    await items.insertOne({ name: request.body.name, createdAt: new Date() })
    return reply.code(201).send({ ok: true })
  })
}

// About 30 MB an hour kept for good: after 20 minutes or so, the Leak signs card says "Heap baseline rising".
if (process.env.DEMO_LEAK === '1') {
  const leaked = []
  setInterval(() => { leaked.push(Array.from({ length: 1000 }, (_, i) => ({ i, at: new Date().toISOString() }))) }, 5000).unref()
}

await app.listen({ port, host })
// The port actually bound (PORT=0 picks a free one).
const base = `http://${host.includes(':') ? `[${host}]` : host}:${app.server.address().port}`
console.log(`Demo app on ${base}
  dashboard  ${base}/dashboard
  health     ${base}/health
  metrics    ${base}/metrics
  api        ${base}/api/users/1  ${base}/api/reports/slow  ${base}/api/checkout  POST ${base}/api/orders${mongo === null ? '' : `  ${base}/api/db/items`}
  alert      for i in $(seq 40); do curl -s ${base}/api/demo/block-loop; done   (slow-loop fires after 20 s)
  database   ${mongo === null ? 'none (set MONGODB_URI to watch one)' : 'MongoDB from MONGODB_URI'}
  access     ${process.env.SERVER_WATCH_TOKEN ? 'the token (Bearer, or the Basic password with any user name)' : 'requests from this host (set SERVER_WATCH_TOKEN to require a token)'}
  profiles   ${process.env.SERVER_WATCH_TOKEN ? 'on (profiles: true, for the token\'s holders)' : 'off (set SERVER_WATCH_TOKEN to turn them on)'}`)

let traffic = null
if (process.env.DEMO_TRAFFIC !== '0') {
  traffic = startTraffic(base, { withDatabase: mongo !== null })
  console.log('  traffic    light background requests, so the numbers move (DEMO_TRAFFIC=0 turns them off)')
}

// Stopping well within PM2's default kill_timeout (1.6 s): the demo's own traffic first (its connections are
// closed with it), then app.close(), which waits for requests in flight (the slowest demo route takes 400 ms) and
// ends the dashboards' live streams. A keep-alive connection whose request ends during the close is closed as soon
// as it is idle (server.close() closes only those idle when it starts); connections still open after
// CLOSE_GRACE_MS are closed hard, and the process leaves by EXIT_DEADLINE_MS whatever happens, with exit code 1.
const CLOSE_GRACE_MS = 800
const EXIT_DEADLINE_MS = 1200
function shutdown (signal) {
  const started = performance.now()
  traffic?.stop()
  setInterval(() => app.server.closeIdleConnections(), 20).unref()
  setTimeout(() => app.server.closeAllConnections(), CLOSE_GRACE_MS).unref()
  setTimeout(() => {
    console.error(`Demo app: not closed after ${EXIT_DEADLINE_MS} ms (${signal}); exiting anyway`)
    process.exit(1)
  }, EXIT_DEADLINE_MS).unref()
  app.close().then(() => {
    console.log(`Demo app closed in ${Math.round(performance.now() - started)} ms (${signal})`)
    process.exit(0)
  }, (error) => {
    console.error('Demo app: close failed', error)
    process.exit(1)
  })
}
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, shutdown)
