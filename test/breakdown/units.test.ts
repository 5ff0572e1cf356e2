import t from 'tap'
import { Long, ObjectId } from 'bson'
import { commandShape, MAX_SHAPE_LENGTH } from '../../lib/breakdown/shape.js'
import { RequestContext } from '../../lib/breakdown/context.js'
import { RouteBreakdown, RouteTable } from '../../lib/breakdown/routes.js'
import { NPlusOneTable, ShapeRegistry, SlowQueries } from '../../lib/breakdown/queries.js'
import { HostTable, OTHER_HOSTS, hostOfClientRequest, hostOfOrigin } from '../../lib/breakdown/hosts.js'
import { normalizeBreakdown } from '../../lib/breakdown/options.js'
import { attributesCorrectly } from '../../lib/breakdown/database.js'

const SECRET = 'alice.secret@example.com'

t.test('issue 29: a query shape keeps field names and operators and replaces every value by "?"', async (t) => {
  const find = commandShape('find', {
    find: 'users',
    filter: { email: SECRET, age: { $gt: 30 }, _id: new ObjectId(), tags: { $in: ['a', 'b', 'c'] }, $or: [{ a: 1 }, { b: 'x' }] },
    sort: { createdAt: -1 },
    limit: 10,
    lsid: { id: 'session' },
    $db: 'shop',
    comment: SECRET
  })
  t.equal(find.collection, 'users')
  t.equal(find.shape, '{"find":"users","filter":{"email":"?","age":{"$gt":"?"},"_id":"?","tags":{"$in":"?"},"$or":[{"a":"?"},{"b":"?"}]},"sort":{"createdAt":"?"},"limit":"?"}')
  t.notOk(find.shape.includes(SECRET))

  const inList = (n: number) => commandShape('find', { find: 'users', filter: { _id: { $in: Array.from({ length: n }, (_, i) => i) } } }).shape
  t.equal(inList(2), inList(50), 'an $in list of any length has one shape')

  const insert = (n: number) => commandShape('insert', { insert: 'orders', documents: Array.from({ length: n }, () => ({ item: SECRET, qty: 2 })), ordered: true })
  t.equal(insert(1).shape, '{"insert":"orders","documents":[{"item":"?","qty":"?"}]}')
  t.equal(insert(3).shape, insert(1).shape, 'a batch has the shape of its first document')

  const getMore = commandShape('getMore', { getMore: Long.fromNumber(12345), collection: 'users', batchSize: 10 })
  t.same(getMore, { collection: 'users', shape: '{"getMore":"?","collection":"users"}' }, 'the cursor id is a value')

  const unknown = commandShape('createUser', { createUser: SECRET, pwd: SECRET, roles: [] })
  t.same(unknown, { collection: null, shape: '{"createUser":"?","pwd":"?","roles":"?"}' }, 'the first value of a command that names no collection is a value too')

  const pipeline = commandShape('aggregate', { aggregate: 'orders', pipeline: [{ $match: { user: SECRET } }, { $group: { _id: '$user', n: { $sum: 1 } } }], cursor: {} })
  t.equal(pipeline.shape, '{"aggregate":"orders","pipeline":[{"$match":{"user":"?"}},{"$group":{"_id":"?","n":{"$sum":"?"}}}]}')

  let deep: Record<string, unknown> = { leaf: SECRET }
  for (let i = 0; i < 20; i++) deep = { [`k${i}`]: deep }
  const wide = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`field_${'x'.repeat(80)}_${i}`, SECRET]))
  for (const filter of [deep, wide]) {
    const { shape } = commandShape('find', { find: 'users', filter })
    t.ok(shape.length <= MAX_SHAPE_LENGTH, `bounded: ${shape.length}`)
    t.notOk(shape.includes(SECRET))
  }
})

t.test('issue 29: a request\'s time is split into database, outbound, both and the application, adding up exactly', async (t) => {
  const route = new RouteBreakdown('GET', '/x', true, true)
  const context = new RequestContext(route, 1000)
  // 0-10 app, 10-30 db (two overlapping queries 10-25 and 15-30), 30-40 app, 40-60 outbound, 50-70 db (50-60 both)
  context.databaseStarted(1010, 0)
  context.databaseStarted(1015, 0)
  context.databaseEnded(1025)
  context.databaseEnded(1030)
  context.outboundStarted(1040)
  context.databaseStarted(1050, 1)
  context.outboundEnded(1060)
  context.databaseEnded(1070)
  const duration = context.seal(1100)
  t.equal(duration, 100)
  t.same([context.databaseOnlyMs, context.outboundOnlyMs, context.bothMs], [30, 10, 10])
  t.equal(context.databaseMs, 40, 'the union of the database calls: overlaps once')
  t.equal(context.outboundMs, 20)
  t.equal(context.databaseCalls, 3)
  t.equal(context.outboundCalls, 1)

  route.fold(context, duration, 5, () => t.fail('no N+1'))
  const database = route.figures(route.database!)
  const outbound = route.figures(route.outbound!)
  t.same(database, { callsPerRequest: 3, timeMsPerRequest: { avg: 40, p95: 40 }, share: 0.35 })
  t.same(outbound, { callsPerRequest: 1, timeMsPerRequest: { avg: 20, p95: 20 }, share: 0.15 })
  t.equal(1 - database.share - outbound.share, 0.5, 'the application: the 50 ms with nothing running')
})

t.test('issue 29: a call still running at the response counts up to it; one starting later is not the request\'s', async (t) => {
  const route = new RouteBreakdown('GET', '/x', true, false)
  const context = new RequestContext(route, 0)
  context.databaseStarted(50, 0)
  const duration = context.seal(80)
  context.databaseEnded(200) // the reply after the response: ignored by the sealed context
  t.equal(context.databaseMs, 30)
  route.fold(context, duration, 5, () => {})
  t.same(route.figures(route.database!), { callsPerRequest: 1, timeMsPerRequest: { avg: 30, p95: 30 }, share: 0.375 })
})

t.test('issue 29: N+1 is one shape run nPlusOneCalls times in one request: 5 is, 4 is not', async (t) => {
  const shapes = new ShapeRegistry()
  const table = new NPlusOneTable(shapes)
  const route = new RouteBreakdown('GET', '/orders', true, false)
  const byId = shapes.idOf('{"find":"items","filter":{"_id":"?"}}')
  const other = shapes.idOf('{"find":"users"}')
  for (const calls of [4, 5, 7]) {
    const context = new RequestContext(route, 0)
    for (let i = 0; i < calls; i++) context.databaseStarted(1, byId)
    for (let i = 0; i < 4; i++) context.databaseStarted(1, other)
    route.fold(context, context.seal(10), 5, (r, shapeId, n) => table.record(r.key, shapeId, n))
  }
  t.equal(route.nPlusOne, 2, 'the requests with 5 and 7 calls')
  t.same(table.read(), [{ endpoint: 'GET /orders', shape: '{"find":"items","filter":{"_id":"?"}}', callsPerRequest: 6, requests: 2 }])
})

t.test('issue 29: the slowest recent commands, a fixed number, the oldest leaving after the window', async (t) => {
  let now = Date.UTC(2026, 11, 6, 12)
  const slow = new SlowQueries(3, 60_000, () => now)
  for (const ms of [5, 1, 9, 3, 7]) if (ms > slow.threshold) slow.capture('find', 'c', `{"find":"c","n${ms}":"?"}`, ms, 'GET /x')
  t.same(slow.read().map((q) => q.durationMs), [9, 7, 5])
  t.equal(slow.threshold, 5)
  t.same(slow.read()[0], { command: 'find', collection: 'c', shape: '{"find":"c","n9":"?"}', durationMs: 9, endpoint: 'GET /x', at: '2026-12-06T12:00:00.000Z' })
  now += 61_000
  t.same(slow.read(), [], 'past the window')
  t.equal(slow.threshold, 0)
})

t.test('issue 29: routes and hosts are bounded', async (t) => {
  const routes = new RouteTable(2, { overflow: '(other routes)' }, true, true)
  t.equal(routes.routeFor('*', '(not found)').key, '(not found)', 'the shared keys do not count')
  t.equal(routes.routeFor('GET', '/a').key, 'GET /a')
  t.equal(routes.routeFor('GET', '/b').key, 'GET /b')
  t.equal(routes.routeFor('GET', '/c').key, '(other routes)')
  t.equal(routes.routeFor('GET', '/d'), routes.routeFor('GET', '/c'))
  t.equal(routes.routeFor('GET', '/a').key, 'GET /a')

  const hosts = new HostTable(2)
  hosts.statsFor('a:80').record(10, false)
  hosts.statsFor('b:80').record(20, true)
  hosts.statsFor('c:80').record(30, false)
  hosts.statsFor('d:80').record(40, false)
  t.same(hosts.read(), {
    'a:80': { calls: 1, errors: 0, p50Ms: 10, p95Ms: 10 },
    'b:80': { calls: 1, errors: 1, p50Ms: 20, p95Ms: 20 },
    [OTHER_HOSTS]: { calls: 2, errors: 0, p50Ms: 30.5, p95Ms: 40 } // a bucket's middle, capped at the largest value
  })
})

t.test('issue 29: host:port of a fetch origin and of an http.request', async (t) => {
  t.equal(hostOfOrigin('http://127.0.0.1:8080'), '127.0.0.1:8080')
  t.equal(hostOfOrigin('https://api.example.com'), 'api.example.com:443')
  t.equal(hostOfOrigin('http://api.example.com'), 'api.example.com:80')
  t.equal(hostOfOrigin('http://[::1]:3000'), '[::1]:3000')
  t.equal(hostOfOrigin('https://[::1]'), '[::1]:443')
  const request = (host: string, header: unknown, protocol = 'http:', remotePort?: number) =>
    ({ host, protocol, socket: remotePort === undefined ? null : { remotePort }, getHeader: () => header })
  t.equal(hostOfClientRequest(request('127.0.0.1', '127.0.0.1:3000')), '127.0.0.1:3000')
  t.equal(hostOfClientRequest(request('example.com', 'example.com', 'https:')), 'example.com:443')
  t.equal(hostOfClientRequest(request('10.0.0.1', 'virtual.example', 'http:', 8080)), '10.0.0.1:8080')
  t.equal(hostOfClientRequest(request('::1', undefined)), '[::1]:80')
})

t.test('issue 29: the breakdown option', async (t) => {
  t.equal(normalizeBreakdown(undefined), null)
  t.equal(normalizeBreakdown(false), null)
  t.same(normalizeBreakdown(true), { database: true, outbound: true, nPlusOneCalls: 5 })
  t.same(normalizeBreakdown({ outbound: false, nPlusOneCalls: 3 }), { database: true, outbound: false, nPlusOneCalls: 3 })
  t.equal(normalizeBreakdown({ database: false, outbound: false }), null, 'both parts off is off')
  t.throws(() => normalizeBreakdown({ nPlusOneCalls: 1 }), { code: 'FST_SERVER_WATCH_INVALID_OPTION', message: /"breakdown.nPlusOneCalls" option must be an integer from 2 to 10000, got 1/ })
  t.throws(() => normalizeBreakdown({ databse: true }), { message: /"breakdown.databse" option must be one of database, outbound, nPlusOneCalls \(unknown option; did you mean "database"\?\)/ })
  t.throws(() => normalizeBreakdown('yes'), { message: /"breakdown" option must be a boolean or \{ database\?, outbound\?, nPlusOneCalls\? \}/ })
})

t.test('issue 29: database attribution needs a driver that awaits its pool checkout (6.4 and later)', async (t) => {
  const client = (metadata: unknown) => ({ options: { metadata } }) as never
  t.equal(attributesCorrectly(client({ driver: { version: '6.3.1' } })), false)
  t.equal(attributesCorrectly(client({ driver: { version: '6.4.0' } })), true)
  t.equal(attributesCorrectly(client({ driver: { version: '6.10.0|my-odm' } })), true)
  t.equal(attributesCorrectly(client(Promise.resolve({}))), true, 'driver 7 builds its metadata asynchronously')
  t.equal(attributesCorrectly(client(undefined)), false)
})

t.test('issue 29: a route\'s per-request histogram exists only once a request made such a call', async (t) => {
  const route = new RouteBreakdown('GET', '/x', true, true)
  const fold = (databaseCalls: number, databaseMs: number) => {
    const context = new RequestContext(route, 0)
    if (databaseCalls > 0) {
      for (let i = 0; i < databaseCalls; i++) context.databaseStarted(0, -1)
      for (let i = 0; i < databaseCalls; i++) context.databaseEnded(databaseMs)
    }
    route.fold(context, context.seal(100), 5, () => {})
  }
  t.equal(route.figures(route.database!).timeMsPerRequest.p95, null, 'no request yet')
  for (let i = 0; i < 19; i++) fold(0, 0)
  t.equal(route.database!.perRequest, null)
  t.equal(route.outbound!.perRequest, null)
  t.equal(route.figures(route.database!).timeMsPerRequest.p95, 0)
  fold(1, 40)
  t.equal(route.database!.perRequest!.count, 20, 'the idle requests kept their place')
  // The 19th of 20 values is a 0: reported as the lowest bucket's middle (under 0.01 ms), as record(0) would.
  t.same(route.figures(route.database!), { callsPerRequest: 0.05, timeMsPerRequest: { avg: 2, p95: 0.005 }, share: 0.02 })
  fold(1, 40)
  t.equal(route.figures(route.database!).timeMsPerRequest.p95, 40, 'the 95th of 21 requests: the one with 40 ms')
  t.equal(route.outbound!.perRequest, null, 'outbound never called: no histogram')
})
