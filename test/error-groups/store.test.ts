// The error groups' core (lib/error-groups/): fingerprints, the bounded store, its JSON form and its exact merge.
// Pure: no server; times are given to record() (an injected clock).
import { test } from 'tap'
import { fingerprint, groupId, normalizeMessage, sampleStack, stackFrames } from '../../lib/error-groups/fingerprint.js'
import { MinuteSeries, minuteOf } from '../../lib/error-groups/series.js'
import { ErrorGroupStore, MAX_GROUP_ENDPOINTS, OVERFLOW_ENDPOINT } from '../../lib/error-groups/store.js'
import { parseStoredGroups } from '../../lib/error-groups/stored.js'

const ROOT = '/srv/app'
const T0 = Date.UTC(2026, 11, 6, 12, 0, 0)
const MINUTE = 60_000

/** An error with a stack as V8 writes it, thrown in `frames` (top first). */
function thrown (message: string, frames: string[], { name = 'Error', code }: { name?: string, code?: string } = {}): Error {
  const error = name === 'TypeError' ? new TypeError(message) : new Error(message)
  if (name !== 'Error' && name !== 'TypeError') error.name = name
  error.stack = `${name}: ${message}\n${frames.map((frame) => `    at ${frame}`).join('\n')}`
  if (code !== undefined) Object.assign(error, { code })
  return error
}

const FASTIFY = [
  'preHandlerCallbackInner (/srv/app/node_modules/fastify/lib/handle-request.js:190:24)',
  'preHandlerCallback (/srv/app/node_modules/fastify/lib/handle-request.js:155:5)',
  'Router.callHandler (/srv/app/node_modules/find-my-way/index.js:614:14)',
  'process.processTicksAndRejections (node:internal/process/task_queues:95:5)'
]
const atLoadUser = (line: number, column = 11) => [`loadUser (file:///srv/app/lib/users.js:${line}:${column})`, 'Object.getUser (/srv/app/routes/users.js:20:3)', ...FASTIFY]
const atSaveOrder = (line: number) => [`saveOrder (/srv/app/lib/orders.js:${line}:9)`, 'Object.postOrder (/srv/app/routes/orders.js:8:3)', ...FASTIFY]

test('issue 28: a fingerprint is the class, the code and the top app frames; lines, columns and library frames do not count', async (t) => {
  const a = fingerprint(thrown('user 17 not found', atLoadUser(10)), 'GET /users/:id', 'user 17 not found', ROOT)
  t.equal(a, 'stack\nError\n\nloadUser lib/users.js\nObject.getUser routes/users.js\nfastify\nfind-my-way\nnode:')
  // An edit elsewhere in the file moves the line; another message at the same place: the same group.
  t.equal(fingerprint(thrown('user 42 not found', atLoadUser(14, 3)), 'GET /users/:id', 'user 42 not found', ROOT), a)
  t.not(fingerprint(thrown('x', atLoadUser(10), { name: 'TypeError' }), 'GET /users/:id', 'x', ROOT), a, 'another class')
  t.not(fingerprint(thrown('x', atLoadUser(10), { code: 'E_USER' }), 'GET /users/:id', 'x', ROOT), a, 'another code')
  t.not(fingerprint(thrown('x', atSaveOrder(10)), 'GET /users/:id', 'x', ROOT), a, 'another place')
  t.equal(groupId(a), groupId(a))
  t.match(groupId(a), /^[0-9a-f]{16}$/)
})

test('issue 28: two anonymous handlers in one file are told apart by their lines, which they alone keep', async (t) => {
  const at = (line: number) => [`Object.<anonymous> (file:///srv/app/server.js:${line}:35)`, ...FASTIFY]
  const { frames } = stackFrames(thrown('x', at(3)).stack!, ROOT)
  t.same(frames.slice(0, 1), ['<anonymous> server.js:3'])
  t.not(fingerprint(thrown('x', at(3)), 'GET /a', 'x', ROOT), fingerprint(thrown('x', at(4)), 'GET /b', 'x', ROOT))
  // Called from two anonymous handlers: one group, whatever the callers' lines.
  const via = (line: number) => ['loadUser (/srv/app/users.js:9:9)', `Object.<anonymous> (file:///srv/app/server.js:${line}:35)`, ...FASTIFY]
  t.equal(fingerprint(thrown('x', via(3)), 'GET /a', 'x', ROOT), fingerprint(thrown('x', via(40)), 'GET /b', 'x', ROOT))
  t.equal(fingerprint(thrown('x', via(3)), 'GET /a', 'x', ROOT), 'stack\nError\n\nloadUser users.js\n<anonymous> server.js\nfastify\nfind-my-way\nnode:')
})

test('issue 28: without a stack (or without app frames), the message normalised: ids, numbers and quoted values', async (t) => {
  t.equal(normalizeMessage('user 17 not found'), 'user <n> not found')
  t.equal(normalizeMessage('order 5f1d7a3b9c0e4a2b1c3d4e5f in "paris" took 12.5 s'), 'order <hex> in <str> took <n> s')
  t.equal(normalizeMessage('request 3b241101-e2bb-4255-8caf-4136c566a962 at 0xdeadbeef'), 'request <uuid> at <hex>')
  const bare = (message: string) => Object.assign(new Error(message), { stack: undefined })
  t.equal(fingerprint(bare('user 17 not found'), 'GET /u', 'user 17 not found', ROOT), fingerprint(bare('user 42 not found'), 'GET /u', 'user 42 not found', ROOT))
  t.not(fingerprint(bare('user 17 not found'), 'GET /u', 'user 17 not found', ROOT), fingerprint(bare('order 17 lost'), 'GET /u', 'order 17 lost', ROOT))
  // A stack only through libraries (a driver's error after an await): the message tells the problems apart.
  const library = (message: string) => thrown(message, ['Connection.onMessage (/srv/app/node_modules/mongodb/lib/cmap/connection.js:1:1)'], { name: 'MongoServerError', code: '11000' })
  t.equal(fingerprint(library('dup key 1'), 'POST /u', 'dup key 1', ROOT), 'message\nMongoServerError\n11000\nmongodb\ndup key <n>')
  t.equal(fingerprint('a string 12', 'GET /u', 'a string 12', ROOT), 'message\nstring\n\n\na string <n>')
})

test('issue 28: a validation error groups by route and failing keyword, whatever was sent', async (t) => {
  const invalid = (keyword: string, path: string) => Object.assign(new Error(`body${path} must be integer`), {
    code: 'FST_ERR_VALIDATION', statusCode: 400, validationContext: 'body', validation: [{ keyword, instancePath: path }]
  })
  const a = fingerprint(invalid('type', '/x'), 'POST /v', '', ROOT)
  t.equal(a, 'validation\nPOST /v\nbody\ntype')
  t.equal(fingerprint(invalid('type', '/y'), 'POST /v', '', ROOT), a)
  t.not(fingerprint(invalid('required', '/x'), 'POST /v', '', ROOT), a)
  t.not(fingerprint(invalid('type', '/x'), 'POST /w', '', ROOT), a)
})

test('issue 28: two throw sites and two messages differing only in ids make two groups with exact counts', async (t) => {
  const store = new ErrorGroupStore({ release: 'v1', root: ROOT })
  for (let i = 0; i < 5; i++) store.record(thrown(`user ${i} not found`, atLoadUser(10)), 'GET /users/:id', 404, T0 + i * 1000)
  for (let i = 0; i < 3; i++) store.record(thrown('order lost', atSaveOrder(30)), 'POST /orders', 500, T0 + 10_000 + i)
  store.record(thrown('user 99 not found', atLoadUser(10)), 'GET /admin/users/:id', 500, T0 + 20_000)
  const [users, orders, ...rest] = store.view(T0 + 30_000)
  t.same(rest, [])
  t.match(users, {
    name: 'Error',
    code: null,
    message: 'user 99 not found',
    count: 6,
    firstSeen: new Date(T0).toISOString(),
    lastSeen: new Date(T0 + 20_000).toISOString(),
    firstRelease: 'v1',
    endpoints: { 'GET /users/:id': 5, 'GET /admin/users/:id': 1 },
    statusCodes: { 404: 5, 500: 1 }
  })
  t.equal(users!.stack, 'Error: user 0 not found\n    at loadUser (lib/users.js:10)\n    at Object.getUser (routes/users.js:20)\n' +
    '    at … (fastify)\n    at … (find-my-way)\n    at … (node:)')
  t.same(users!.perMinute.slice(-1), [6])
  t.equal(users!.perMinute.length, 60)
  t.match(orders, { count: 3, endpoints: { 'POST /orders': 3 }, statusCodes: { 500: 3 } })
  t.equal(store.takeNew().length, 2, 'error.new once per group')
  store.record(thrown('order lost', atSaveOrder(31)), 'POST /orders', 500, T0 + 40_000)
  t.same(store.takeNew(), [], 'not again in the same release')
})

test('issue 28: at most maxErrorGroups groups; the least recently seen is evicted and counted', async (t) => {
  const store = new ErrorGroupStore({ maxGroups: 3, root: ROOT })
  for (let i = 0; i < 5; i++) store.record(thrown('x', [`f${i} (/srv/app/x.js:1:1)`]), 'GET /', 500, T0 + i)
  store.record(thrown('x', ['f3 (/srv/app/x.js:1:1)']), 'GET /', 500, T0 + 10)
  store.record(thrown('x', ['f9 (/srv/app/x.js:1:1)']), 'GET /', 500, T0 + 11)
  t.equal(store.size, 3)
  t.equal(store.evicted, 3)
  t.same(store.list().map((group) => group.fingerprint.split('\n')[3]), ['f9 x.js', 'f3 x.js', 'f4 x.js'])
})

test('issue 28: a group counts at most MAX_GROUP_ENDPOINTS routes, the rest under one key', async (t) => {
  const store = new ErrorGroupStore({ root: ROOT })
  for (let i = 0; i < MAX_GROUP_ENDPOINTS + 5; i++) store.record(thrown('x', ['f (/srv/app/x.js:1:1)']), `GET /r${i}`, 500, T0)
  const [group] = store.view(T0)
  t.equal(Object.keys(group!.endpoints).length, MAX_GROUP_ENDPOINTS + 1)
  t.equal(group!.endpoints[OVERFLOW_ENDPOINT], 5)
})

test('issue 28: groups survive a restart with the same ids, through their JSON form', async (t) => {
  const before = new ErrorGroupStore({ release: 'v1', root: ROOT })
  for (let i = 0; i < 4; i++) before.record(thrown(`user ${i} not found`, atLoadUser(10)), 'GET /users/:id', 404, T0 + i * MINUTE)
  const text = JSON.stringify(before.toJSON())
  const stored = parseStoredGroups(JSON.parse(text))
  if (typeof stored === 'string') throw new Error(stored)
  const after = new ErrorGroupStore({ release: 'v1', root: ROOT }).absorb(stored)
  after.record(thrown('user 7 not found', atLoadUser(12)), 'GET /users/:id', 404, T0 + 4 * MINUTE)
  const [group] = after.view(T0 + 4 * MINUTE)
  t.equal(group!.id, before.list()[0]!.id)
  t.equal(group!.count, 5)
  t.same(group!.perMinute.slice(-5), [1, 1, 1, 1, 1])
  t.same(after.takeNew(), [], 'already alerted in this release before the restart')
  t.equal(parseStoredGroups({ ...JSON.parse(text), groups: [{ ...stored.groups[0], id: '0000000000000000' }] }), 'group 0: id does not match its fingerprint')
  t.equal(parseStoredGroups({ format: 'x' }), 'not fastify-server-watch error groups')
})

test('issue 28: four processes\' groups merge to exact totals, whatever the order', async (t) => {
  const stores = [0, 1, 2, 3].map(() => new ErrorGroupStore({ release: 'v1', root: ROOT, maxGroups: 10 }))
  stores.forEach((store, p) => {
    for (let i = 0; i <= p; i++) store.record(thrown(`user ${i} not found`, atLoadUser(10)), `GET /p${p}`, 404, T0 + p * MINUTE + i)
    store.record(thrown('order lost', atSaveOrder(30)), 'POST /orders', 500 + p, T0 + 30 * MINUTE - p * MINUTE)
  })
  const merged = (order: number[]) => order.reduce((into, p) => into.absorb(stores[p]!.toJSON()), new ErrorGroupStore({ root: ROOT, maxGroups: 10 }))
  const a = merged([0, 1, 2, 3]).toJSON()
  t.same(merged([3, 1, 0, 2]).toJSON(), a)
  const [orders, users] = a.groups
  t.match(orders, { count: 4, firstSeen: T0 + 27 * MINUTE, lastSeen: T0 + 30 * MINUTE, statusCodes: { 500: 1, 501: 1, 502: 1, 503: 1 } })
  t.match(users, { count: 10, firstSeen: T0, lastSeen: T0 + 3 * MINUTE + 3, endpoints: { 'GET /p0': 1, 'GET /p1': 2, 'GET /p2': 3, 'GET /p3': 4 } })
  t.same(users!.perMinute, { newest: minuteOf(T0) + 3, counts: [...new Array<number>(56).fill(0), 1, 2, 3, 4] })
})

test('issue 28: a minute series keeps the last hour and adds aligned by minute', async (t) => {
  const a = new MinuteSeries()
  a.add(100, 2)
  a.add(130)
  a.add(70) // more than an hour before the newest: dropped
  t.same(a.read(131).slice(-33), [0, 2, ...new Array<number>(29).fill(0), 1, 0])
  const b = new MinuteSeries()
  b.add(161, 5)
  b.addSeries(a)
  t.same(b.read(161).filter((n) => n > 0), [1, 5], 'minute 100 fell out of the hour ending at 161')
  t.same(MinuteSeries.fromJSON(b.toJSON()).read(161), b.read(161))
  // The last 60 s: this minute's count and the part of the previous minute still inside the window.
  const c = new MinuteSeries()
  c.add(10, 6)
  c.add(11, 2)
  t.equal(c.lastMinute(11 * MINUTE + MINUTE / 4), 2 + 6 * 0.75)
  t.equal(c.lastMinute(13 * MINUTE), 0)
})

test('issue 28: the sample stack keeps app frames with lines and one line per library run', async (t) => {
  const error = thrown('boom', ['async handler (/srv/app/a.js:3:5)', ...FASTIFY])
  t.equal(sampleStack(error, 'Error: boom', ROOT), 'Error: boom\n    at handler (a.js:3)\n    at … (fastify)\n    at … (find-my-way)\n    at … (node:)')
  t.equal(sampleStack('no stack', 'x', ROOT), null)
})
