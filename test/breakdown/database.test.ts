import { once } from 'node:events'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import t from 'tap'
import type { MongoClient } from 'mongodb'
import { OUTSIDE_REQUESTS } from '../../lib/breakdown/index.js'
import { gate, until } from '../helpers/time.js'
import { breakdownApp, mongoClient, mongoServer } from './harness.js'

const SECRET = 'alice.secret@example.com'
const users = (client: MongoClient) => client.db('shop').collection('users')

t.test('issue 29: every MongoDB command is charged to its route, with exact counts per request', async (t) => {
  const server = await mongoServer(t)
  const client = await mongoClient(t, server.uri)
  const { app, breakdown } = breakdownApp(t, { mongo: client, options: { outbound: false } })
  app.get('/one', async () => users(client).findOne({ email: SECRET }))
  app.get('/three', async () => {
    await users(client).insertOne({ email: SECRET, name: 'Alice' })
    await users(client).find({ email: SECRET }).toArray()
    return users(client).countDocuments({ name: 'Alice' })
  })
  app.get('/concurrent', async () => Promise.all([1, 2, 3].map((n) => users(client).findOne({ n }))))
  app.get('/none', async () => 'no database')
  app.post('/body', async (request) => users(client).insertOne({ ...(request.body as object) }))
  const bodyStarted = gate()
  app.post('/slow-body', { preParsing: (_request, _reply, payload, done) => { bodyStarted.open(); done(null, payload) } },
    async (request) => users(client).insertOne({ ...(request.body as object) }))
  await app.ready()
  for (let i = 0; i < 4; i++) {
    for (const url of ['/one', '/three', '/concurrent', '/none']) t.equal((await app.inject(url)).statusCode, 200)
  }
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  for (let i = 0; i < 2; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/body`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: SECRET }) })
    t.equal(response.status, 200)
  }

  // A body that arrives after the headers is read from the connection's events: Fastify parses it in an
  // AsyncResource made in the request's context, so the handler keeps it.
  const slow = http.request({ host: '127.0.0.1', port, path: '/slow-body', method: 'POST', headers: { 'content-type': 'application/json' } })
  slow.flushHeaders()
  slow.write('{"email":')
  await bodyStarted.promise
  slow.end(JSON.stringify(SECRET) + '}')
  const [slowResponse] = await once(slow, 'response') as [http.IncomingMessage]
  slowResponse.resume()
  t.equal(slowResponse.statusCode, 200)

  const calls = (key: string) => breakdown.endpoint(key)?.database?.callsPerRequest
  t.equal(calls('GET /one'), 1)
  t.equal(calls('GET /three'), 3)
  t.equal(calls('GET /concurrent'), 3, 'concurrent commands in one request all count')
  t.equal(calls('GET /none'), 0)
  t.equal(calls('POST /body'), 1)
  t.equal(calls('POST /slow-body'), 1, 'a body read after the hooks ran')
  for (const key of ['GET /one', 'GET /three', 'GET /concurrent', 'POST /body']) {
    const { database, outbound, nPlusOne } = breakdown.endpoint(key)!
    t.equal(outbound, undefined, 'outbound is off')
    t.equal(nPlusOne, 0)
    t.ok(database!.share > 0 && database!.share <= 1, `${key}: share ${database!.share} in (0, 1]`)
    t.ok(database!.timeMsPerRequest.avg > 0)
  }
  t.equal(breakdown.endpoint('GET /none')!.database!.share, 0)
  t.same(breakdown.database()!.outsideRequests, { calls: 0, timeMs: 0 }, 'the plugin\'s clients calls were all in requests')

  const json = JSON.stringify({ endpoints: ['GET /one', 'GET /three', 'POST /body'].map((key) => breakdown.endpoint(key)), database: breakdown.database() })
  t.notOk(json.includes(SECRET), 'no value of a filter or a document reaches the figures')
  t.notOk(json.includes('Alice'))
  const shapes = new Set(breakdown.database()!.slowQueries.map((query) => query.shape))
  t.ok(shapes.has('{"find":"users","filter":{"email":"?"},"limit":"?","singleBatch":"?"}') || shapes.has('{"find":"users","filter":{"email":"?"}}'), [...shapes].join(' '))
  for (const query of breakdown.database()!.slowQueries) {
    t.equal(query.collection, 'users')
    t.match(query.endpoint, /^(GET \/one|GET \/three|GET \/concurrent|POST \/body|POST \/slow-body)$/)
  }
})

t.test('issue 29: an N+1 is one query shape run 5 times in a request (concurrent calls count); 4 is not', async (t) => {
  const server = await mongoServer(t)
  const client = await mongoClient(t, server.uri)
  const { app, breakdown } = breakdownApp(t, { mongo: client })
  const items = client.db('shop').collection('items')
  app.get('/loop/:n', async (request) => {
    for (let id = 0; id < Number((request.params as { n: string }).n); id++) await items.findOne({ _id: id as never })
    return 'ok'
  })
  app.get('/parallel', async () => Promise.all([1, 2, 3, 4, 5].map((id) => items.findOne({ _id: id as never }))))
  app.get('/mixed', async () => {
    for (let id = 0; id < 4; id++) await items.findOne({ _id: id as never })
    for (let id = 0; id < 4; id++) await items.findOne({ sku: String(id) })
    return 'ok'
  })
  await app.ready()
  await app.inject('/loop/4')
  await app.inject('/loop/5')
  await app.inject('/loop/6')
  await app.inject('/parallel')
  await app.inject('/mixed')
  t.equal(breakdown.endpoint('GET /loop/:n')!.nPlusOne, 2, 'the requests with 5 and 6 calls, not the one with 4')
  t.equal(breakdown.endpoint('GET /parallel')!.nPlusOne, 1)
  t.equal(breakdown.endpoint('GET /mixed')!.nPlusOne, 0, 'two shapes 4 times each are no N+1')
  const shape = '{"find":"items","filter":{"_id":"?"},"limit":"?","singleBatch":"?"}'
  t.same(breakdown.database()!.nPlusOne, [
    { endpoint: 'GET /loop/:n', shape, callsPerRequest: 5.5, requests: 2 },
    { endpoint: 'GET /parallel', shape, callsPerRequest: 5, requests: 1 }
  ])
})

t.test('issue 29: a saturated pool (maxPoolSize 1, 20 concurrent requests on two routes) charges every command to its own route', async (t) => {
  const server = await mongoServer(t, { delayMs: 3 })
  const client = await mongoClient(t, server.uri, { maxPoolSize: 1 })
  let created = 0
  let waited = 0
  let checkedOut = 0
  client.on('connectionCreated', () => created++)
  client.on('connectionCheckOutStarted', () => { if (checkedOut > 0) waited++ })
  client.on('connectionCheckedOut', () => checkedOut++)
  client.on('connectionCheckedIn', () => checkedOut--)
  const { app, breakdown } = breakdownApp(t, { mongo: client })
  app.get('/alpha', async () => client.db('test').collection('alpha').findOne({ a: 1 }))
  app.get('/beta', async () => {
    for (let i = 0; i < 3; i++) await client.db('test').collection('beta').findOne({ b: i })
    return 'ok'
  })
  await app.ready()
  for (let round = 0; round < 3; round++) {
    const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => app.inject(i % 2 === 0 ? '/alpha' : '/beta')))
    t.same(responses.map((response) => response.statusCode), new Array(20).fill(200))
  }
  t.ok(created <= 1, `one connection at most was created (${created})`)
  t.ok(waited >= 20, `checkouts waited for the one connection (${waited})`)
  const alpha = breakdown.endpoint('GET /alpha')!.database!
  const beta = breakdown.endpoint('GET /beta')!.database!
  t.equal(alpha.callsPerRequest, 1, 'alpha: 30 requests, 30 commands')
  t.equal(beta.callsPerRequest, 3, 'beta: 30 requests, 90 commands')
  t.ok(alpha.share <= 1 && beta.share <= 1)
  for (const query of breakdown.database()!.slowQueries) {
    t.equal(query.endpoint, query.collection === 'alpha' ? 'GET /alpha' : 'GET /beta', `${query.collection} charged to ${query.endpoint}`)
  }
  t.same(breakdown.database()!.outsideRequests, { calls: 0, timeMs: 0 })
})

t.test('issue 29: commands outside requests, after the response, of an unwatched client, and of an aborted request', async (t) => {
  const server = await mongoServer(t)
  const client = await mongoClient(t, server.uri)
  const unwatched = await mongoClient(t, server.uri)
  const { app, breakdown } = breakdownApp(t, { mongo: client })
  const started = gate()
  const late: Array<Promise<unknown>> = []
  app.get('/unwatched', async () => unwatched.db('test').collection('other').findOne({ x: 1 }))
  app.get('/late', async () => {
    // Started before the response and still running after it: the request's call, timed up to the response.
    server.setDelay(40)
    const sent = gate()
    client.once('commandStarted', () => sent.open())
    late.push(client.db('test').collection('late').findOne({ x: 1 }))
    await sent.promise
    started.open()
    return 'answered before the reply'
  })
  app.get('/background', async () => {
    // Left to start in the background: the driver sends it after the response, so it is outside any request.
    late.push(client.db('test').collection('background').findOne({ x: 1 }))
    return 'answered'
  })
  app.get('/after', async (_request, reply) => {
    await reply.send('sent')
    // Started after the response was recorded (fire and forget): outside any request.
    setTimeout(() => { late.push(client.db('test').collection('after').findOne({ x: 1 })) }, 20)
    return reply
  })
  const aborted = gate()
  const abortedHandlerDone = gate()
  let abortedCalls = 0
  app.get('/aborted', async () => {
    if (abortedCalls++ === 0) {
      server.setDelay(100)
      const query = client.db('test').collection('aborted').findOne({ x: 1 })
      aborted.open()
      await query
      abortedHandlerDone.open()
    }
    return 'answered'
  })
  await app.ready()

  await client.db('test').collection('job').findOne({ x: 1 }) // a job, no request
  t.equal((await app.inject('/unwatched')).statusCode, 200)
  t.equal((await app.inject('/late')).statusCode, 200)
  await Promise.all(late)
  server.setDelay(0)
  t.equal((await app.inject('/after')).statusCode, 200)
  await until(() => late.length === 2, 'the command after the response')
  t.equal((await app.inject('/background')).statusCode, 200)
  await Promise.all(late)

  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const request = http.get({ host: '127.0.0.1', port, path: '/aborted' })
  request.on('error', () => {})
  await aborted.promise
  request.destroy()
  await until(() => breakdown.database()!.slowQueries.some((query) => query.collection === 'aborted'), 'the aborted request\'s command to end')
  await abortedHandlerDone.promise
  server.setDelay(0)
  t.equal((await app.inject('/aborted')).statusCode, 200, 'the next request on the route')

  t.same(breakdown.endpoint('GET /unwatched')!.database!.callsPerRequest, 0, 'a client that is not watched is ignored')
  const lateRoute = breakdown.endpoint('GET /late')!.database!
  t.equal(lateRoute.callsPerRequest, 1, 'a reply after the response still counts for its request')
  t.ok(lateRoute.share <= 1)
  t.equal(breakdown.endpoint('GET /after')!.database!.callsPerRequest, 0)
  const abortedRoute = [...breakdown.routes()].find((route) => route.key === 'GET /aborted')!
  t.equal(abortedRoute.requests, 1, 'an aborted request is not folded into its route (it has no response time)')
  t.equal(breakdown.endpoint('GET /aborted')!.database!.callsPerRequest, 0, 'only the next request, which ran no command')
  const { slowQueries, outsideRequests } = breakdown.database()!
  const endpointOf = (collection: string) => slowQueries.find((query) => query.collection === collection)?.endpoint
  t.equal(outsideRequests.calls, 3, 'the job and the commands started after the response')
  t.equal(breakdown.endpoint('GET /background')!.database!.callsPerRequest, 0)
  t.equal(endpointOf('background'), OUTSIDE_REQUESTS)
  t.equal(endpointOf('job'), OUTSIDE_REQUESTS)
  t.equal(endpointOf('after'), OUTSIDE_REQUESTS)
  t.equal(endpointOf('late'), 'GET /late')
  t.equal(endpointOf('aborted'), 'GET /aborted', 'the aborted request\'s command is still shown under its route')
  t.equal(endpointOf('other'), undefined)
  await started.promise
})

t.test('issue 29: a driver older than 6.4 is warned about and its commands are not broken down', async (t) => {
  const warnings: string[] = []
  const log = { warn: (message: string) => warnings.push(message) } as never
  const fake = { options: { metadata: { driver: { version: '6.3.0' } } }, on () {}, off () {} } as never
  const { breakdown } = breakdownApp(t, { mongo: fake, log })
  t.equal(breakdown.database(), null)
  t.match(warnings, [/needs mongodb driver 6.4 or later/])
})
