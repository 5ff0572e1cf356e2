import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { FailedAttempts, FAILED_ATTEMPTS_LIMIT, GLOBAL_FAILED_ATTEMPTS_LIMIT, attemptKey } from '../lib/access/attempts.js'
import { WRONG_TOKEN_LOG_LINES, WrongTokenLog } from '../lib/access/wrong-token-log.js'
import { createAccess } from '../lib/access/index.js'
import { isLoopbackAddress, isLoopbackHost } from '../lib/access/local.js'
import { createTokenMatcher, presentedSecret } from '../lib/access/token.js'
import { normalizeOptions } from '../lib/options.js'
import type { ServerWatchOptions } from '../lib/plugin.js'
import { buildApp } from './helpers/app.js'
import { fakeClock } from './helpers/time.js'
import { withEnv } from './helpers/env.js'

/** The detailed views: everything but /health and its probes. */
const DETAILED = [
  '/metrics',
  '/dashboard',
  '/dashboard/',
  '/dashboard/api/snapshot',
  '/dashboard/api/history?range=1h',
  '/dashboard/api/stream',
  '/dashboard/static/app.js'
]
const LOOPBACK = ['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1']
const REMOTE = ['203.0.113.9', '10.0.0.1', '::ffff:10.0.0.1', '2001:db8::1', '::ffff:203.0.113.9']
const TOKEN = 'correct-horse-battery-staple'
const OTHER_TOKEN = 'rotated-in-token-0123456789'
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

/** What a caller gets from the detailed views. */
type Outcome = 'allowed' | 'remote' | 'closed' | 'denied' | 'challenge' | 'limited'
const REFUSALS = {
  remote: { statusCode: 403, code: 'FST_SERVER_WATCH_FORBIDDEN', message: /only requests made directly on this host.*SERVER_WATCH_TOKEN/ },
  closed: { statusCode: 403, code: 'FST_SERVER_WATCH_FORBIDDEN', message: /NODE_ENV is production and neither the "token" option \(or SERVER_WATCH_TOKEN\) nor "authorize" is set/ },
  denied: { statusCode: 403, code: 'FST_SERVER_WATCH_FORBIDDEN', message: /authorize denied the request/ },
  challenge: { statusCode: 401, code: 'FST_SERVER_WATCH_UNAUTHORIZED', message: /Authorization: Bearer <token>.*Basic password/ },
  limited: { statusCode: 429, code: 'FST_SERVER_WATCH_TOO_MANY_ATTEMPTS', message: /too many wrong tokens/ }
}

function logLines () {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(String(chunk)); done() } })
  return { lines, logger: { level: 'warn', stream } }
}

async function app (test: Test, options: ServerWatchOptions = {}, fastifyOptions: FastifyServerOptions = {}) {
  const instance = await buildApp(options, fastifyOptions)
  test.teardown(() => instance.close())
  await instance.ready()
  await instance.serverWatch.refresh()
  return instance
}

/** Registers the plugin with NODE_ENV=production (read once, at register time), then puts NODE_ENV back. */
async function productionApp (test: Test, options: ServerWatchOptions = {}, fastifyOptions: FastifyServerOptions = {}) {
  return await withEnv({ NODE_ENV: 'production' }, () => app(test, options, fastifyOptions))
}

/** GET (or HEAD) `url`; a live stream is read until its headers and first bytes, then dropped. */
async function call (instance: FastifyInstance, url: string, remoteAddress: string, headers: Record<string, string> = {}, method: 'GET' | 'HEAD' = 'GET') {
  if (url.endsWith('/stream') && method === 'GET') {
    const controller = new AbortController()
    const response = await instance.inject({ method, url, remoteAddress, headers, payloadAsStream: true, signal: controller.signal })
    let body = ''
    for await (const chunk of response.stream()) {
      body += String(chunk)
      if (body.includes('\n\n') || response.statusCode !== 200) break
    }
    controller.abort()
    return { statusCode: response.statusCode, headers: response.headers, body }
  }
  const response = await instance.inject({ method, url, remoteAddress, headers })
  return { statusCode: response.statusCode, headers: response.headers, body: response.body }
}

/** Asserts what `remoteAddress` with `headers` gets from every route. */
async function checkMatrix (test: Test, instance: FastifyInstance, remoteAddress: string, outcome: Outcome, headers: Record<string, string> = {}) {
  const label = `${remoteAddress} ${JSON.stringify(headers)}`
  for (const url of DETAILED) {
    const response = await call(instance, url, remoteAddress, headers)
    if (outcome === 'allowed') {
      test.equal(response.statusCode, 200, `${label} GET ${url}: 200`)
      continue
    }
    const expected = REFUSALS[outcome]
    test.equal(response.statusCode, expected.statusCode, `${label} GET ${url}: ${expected.statusCode}`)
    test.match(response.headers['content-type'], /^application\/json/)
    test.equal(response.headers['cache-control'], 'no-store')
    const body = JSON.parse(response.body)
    test.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], `${url}: a JSON error and nothing else`)
    test.match(body, expected, `${url}: ${expected.code}`)
    if (outcome === 'challenge') test.equal(response.headers['www-authenticate'], 'Basic realm="server-watch", charset="UTF-8"')
    else test.equal(response.headers['www-authenticate'], undefined)
    if (outcome === 'limited') test.match(response.headers['retry-after'], /^\d+$/)
    const head = await call(instance, url, remoteAddress, headers, 'HEAD')
    test.equal(head.statusCode, expected.statusCode, `${label} HEAD ${url}`)
  }

  const health = await call(instance, '/health', remoteAddress, headers)
  test.equal(health.statusCode, 200, `${label} /health answers whoever asks`)
  const keys = Object.keys(JSON.parse(health.body)).sort()
  if (outcome === 'allowed') {
    test.ok(keys.includes('application') && keys.includes('memory'), `${label} /health: the details`)
  } else {
    test.same(keys, ['status', 'timestamp'], `${label} /health: the status and timestamp alone`)
  }
  const healthJson = await call(instance, '/health', remoteAddress, { ...headers, accept: 'application/health+json' })
  test.equal(healthJson.statusCode, 200)
  if (outcome === 'allowed') test.ok('checks' in JSON.parse(healthJson.body), `${label} health+json: checks`)
  else test.same(JSON.parse(healthJson.body), { status: 'pass' }, `${label} health+json: the status alone`)

  for (const probe of ['/health/live', '/health/ready']) {
    const response = await call(instance, probe, remoteAddress, headers)
    test.equal(response.statusCode, 200, `${label} ${probe}: open to every caller`)
    test.same(JSON.parse(response.body), { status: 'pass' })
  }
}

t.test('the local rule\'s parts: loopback addresses and loopback Host names', async (t) => {
  for (const address of LOOPBACK) t.ok(isLoopbackAddress(address), address)
  for (const address of [...REMOTE, undefined, '', '::', '0.0.0.0', '::ffff:128.0.0.1', '1.127.0.0']) t.notOk(isLoopbackAddress(address), String(address))
  for (const host of ['localhost', 'LOCALHOST:3000', '127.0.0.1', '127.1.2.3:8080', '[::1]', '[::1]:3000', '[::ffff:127.0.0.1]:80']) t.ok(isLoopbackHost(host), host)
  for (const host of [undefined, '', 'evil.example', 'localhost.evil.example', '127.0.0.1.nip.io', 'evil.example:127', '[::2]', '10.0.0.1', '127.0.0.1:', 'localhost:3000 x']) {
    t.notOk(isLoopbackHost(host), String(host))
  }
})

t.test('default: requests made directly on this host read everything; nothing else does', async (t) => {
  const instance = await app(t)
  for (const address of LOOPBACK) await checkMatrix(t, instance, address, 'allowed')
  for (const address of REMOTE) await checkMatrix(t, instance, address, 'remote')
})

t.test('default: a loopback peer is refused when a forwarding header says a proxy relayed it', async (t) => {
  const instance = await app(t)
  for (const [name, value] of <Array<[string, string]>>[
    ['x-forwarded-for', '203.0.113.9'], ['x-forwarded-for', '127.0.0.1'], ['forwarded', 'for=127.0.0.1'],
    ['x-real-ip', '127.0.0.1'], ['x-forwarded-host', 'localhost'], ['via', '1.1 nginx'], ['x-forwarded-proto', 'https']
  ]) {
    await checkMatrix(t, instance, '127.0.0.1', 'remote', { [name]: value })
  }
})

t.test('default: trustProxy: true and a spoofed X-Forwarded-For: 127.0.0.1 let nobody in', async (t) => {
  const trusting = await app(t, {}, { trustProxy: true })
  // From a remote client: request.ip would say 127.0.0.1, the socket does not.
  await checkMatrix(t, trusting, '203.0.113.9', 'remote', { 'x-forwarded-for': '127.0.0.1' })
  // Through a proxy on this host: the socket is loopback, the header gives it away.
  await checkMatrix(t, trusting, '127.0.0.1', 'remote', { 'x-forwarded-for': '127.0.0.1' })
  await checkMatrix(t, trusting, '127.0.0.1', 'allowed')
})

t.test('default: a foreign Host on loopback (DNS rebinding) is refused', async (t) => {
  const instance = await app(t)
  for (const host of ['evil.example', 'evil.example:3000', 'localhost.evil.example', '127.0.0.1.nip.io']) {
    await checkMatrix(t, instance, '127.0.0.1', 'remote', { host })
  }
  await checkMatrix(t, instance, '127.0.0.1', 'allowed', { host: 'localhost:3000' })
  await checkMatrix(t, instance, '::1', 'allowed', { host: '[::1]:3000' })
})

t.test('NODE_ENV=production without token or authorize: closed to everyone, and the start-up warning says how to open it', async (t) => {
  const { lines, logger } = logLines()
  const instance = await productionApp(t, {}, { logger })
  for (const address of [...LOOPBACK, '203.0.113.9']) await checkMatrix(t, instance, address, 'closed')
  const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40)
  t.equal(warnings.length, 1)
  t.match(warnings[0].msg, /closed to everyone\. Set SERVER_WATCH_TOKEN \(or the "token" option\) to open them with a token, or give "authorize"/)
})

t.test('no start-up warning when production has a token or an authorize, or outside production', async (t) => {
  for (const options of [{ token: TOKEN }, { authorize: () => true }]) {
    const { lines, logger } = logLines()
    await productionApp(t, options, { logger })
    t.same(lines, [], JSON.stringify(Object.keys(options)))
  }
  const { lines, logger } = logLines()
  await app(t, {}, { logger })
  t.same(lines, [])
})

t.test('token: Bearer and Basic (any user name) open every view, from anywhere, in production too', async (t) => {
  const instance = await productionApp(t, { token: TOKEN })
  for (const authorization of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, basic('', TOKEN), basic('prometheus', TOKEN), basic('ops', TOKEN)]) {
    await checkMatrix(t, instance, '203.0.113.9', 'allowed', { authorization })
  }
  // Without credentials, a challenge that makes a browser prompt; loopback is no way in in production.
  await checkMatrix(t, instance, '203.0.113.9', 'challenge')
  await checkMatrix(t, instance, '127.0.0.1', 'challenge')
})

t.test('token: wrong, empty or malformed credentials get the challenge again', async (t) => {
  const instance = await app(t, { token: TOKEN })
  for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(0, -1)}`, 'Bearer', basic(TOKEN, 'nope'), `Basic ${TOKEN}`, TOKEN, `Token ${TOKEN}`]) {
    const response = await instance.inject({ url: '/metrics', remoteAddress: '203.0.113.9', headers: { authorization } })
    t.equal(response.statusCode, 401, authorization)
    t.equal(response.headers['www-authenticate'], 'Basic realm="server-watch", charset="UTF-8"')
  }
  // Issue 30.4: outside production too, once a token is set, a request made on this host needs it.
  await checkMatrix(t, instance, '127.0.0.1', 'challenge')
})

t.test('issue 30.4: a token or authorize closes the local rule; localAccess: true keeps it beside them', async (t) => {
  const withToken = await app(t, { token: TOKEN })
  for (const address of LOOPBACK) await checkMatrix(t, withToken, address, 'challenge')
  await checkMatrix(t, withToken, '127.0.0.1', 'allowed', { authorization: `Bearer ${TOKEN}` })
  const withAuthorize = await app(t, { authorize: () => false })
  await checkMatrix(t, withAuthorize, '127.0.0.1', 'denied')

  const both = await app(t, { token: TOKEN, localAccess: true })
  await checkMatrix(t, both, '127.0.0.1', 'allowed')
  await checkMatrix(t, both, '203.0.113.9', 'challenge')
  await checkMatrix(t, both, '127.0.0.1', 'challenge', { 'x-forwarded-for': '203.0.113.9' })
  const authorizeAndLocal = await app(t, { authorize: () => false, localAccess: true })
  await checkMatrix(t, authorizeAndLocal, '::1', 'allowed')
  await checkMatrix(t, authorizeAndLocal, '203.0.113.9', 'denied')
  // The local rule never applies in production, whatever localAccess says.
  await checkMatrix(t, await productionApp(t, { token: TOKEN, localAccess: true }), '127.0.0.1', 'challenge')

  // localAccess: false with no other way in: closed, and the refusal says why.
  const none = await app(t, { localAccess: false })
  const refused = await none.inject({ url: '/metrics', remoteAddress: '127.0.0.1' })
  t.equal(refused.statusCode, 403)
  t.match(refused.json(), { code: 'FST_SERVER_WATCH_FORBIDDEN', message: /"localAccess" is false and neither the "token" option/ })
  t.throws(() => normalizeOptions({ localAccess: 'yes' as never }), { code: 'FST_SERVER_WATCH_INVALID_OPTION', message: /^"localAccess" option must be a boolean, got "yes"$/ })
  t.equal(normalizeOptions({}).localAccess, true)
  t.equal(normalizeOptions({ token: TOKEN }).localAccess, false)
  t.equal(normalizeOptions({ authorize: () => true }).localAccess, false)
  t.equal(normalizeOptions({ token: TOKEN, localAccess: true }).localAccess, true)
})

t.test('token: an array rotates, and SERVER_WATCH_TOKEN sets it without code (the option wins)', async (t) => {
  const rotating = await app(t, { token: [TOKEN, OTHER_TOKEN] })
  for (const token of [TOKEN, OTHER_TOKEN]) {
    t.equal((await rotating.inject({ url: '/metrics', remoteAddress: '203.0.113.9', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
  }
  const fromEnv = await withEnv({ SERVER_WATCH_TOKEN: ` ${TOKEN} , ${OTHER_TOKEN} ` }, () => app(t))
  for (const token of [TOKEN, OTHER_TOKEN]) {
    t.equal((await fromEnv.inject({ url: '/metrics', remoteAddress: '203.0.113.9', headers: { authorization: basic('me', token) } })).statusCode, 200)
  }
  const optionWins = await withEnv({ SERVER_WATCH_TOKEN: TOKEN }, () => app(t, { token: 'option-token-wins-over-env' }))
  t.equal((await optionWins.inject({ url: '/metrics', remoteAddress: '203.0.113.9', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 401)
  t.equal((await optionWins.inject({ url: '/metrics', remoteAddress: '203.0.113.9', headers: { authorization: 'Bearer option-token-wins-over-env' } })).statusCode, 200)
})

t.test('token: invalid values fail at register without showing the secret', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    ['short-secret', /"token" option must be a string.*of 16 to 1024 printable ASCII.*got a string of 12 characters/],
    ['has a space in it, long enough', /got a string of 30 characters/],
    ['comma,in,the,token,is,refused', /got a string of 29 characters/],
    [[], /got an empty array/],
    [42, /got number/],
    [[TOKEN, 7], /got number/]
  ]
  for (const [token, message] of cases) {
    const error = await buildApp({ token: token as string }).then(() => null, (error: Error) => error)
    t.match(error, { code: 'FST_SERVER_WATCH_INVALID_OPTION', message }, JSON.stringify(token))
    if (typeof token === 'string') t.notOk(error?.message.includes(token), 'the value is not in the message')
  }
  const misspelt = await buildApp({ tokn: TOKEN } as ServerWatchOptions).then(() => null, (error: Error) => error)
  t.match(misspelt, { code: 'FST_SERVER_WATCH_INVALID_OPTION', message: /"tokn" option .*did you mean "token".*got a string$/ })
  t.notOk(misspelt?.message.includes(TOKEN), 'a misspelt option does not show its value either')
  const error = await withEnv({ SERVER_WATCH_TOKEN: 'tooshort' }, () => buildApp().then(() => null, (error: Error) => error))
  t.match(error, { code: 'FST_SERVER_WATCH_INVALID_OPTION', message: /^"SERVER_WATCH_TOKEN" option must be/ })
  t.notOk(error?.message.includes('tooshort'))
})

t.test('token: wrong tokens are logged with the client address, never the token, and limited per address', async (t) => {
  const { lines, logger } = logLines()
  const instance = await app(t, { token: TOKEN }, { logger })
  const wrong = { authorization: `Bearer wrong-guess-${'x'.repeat(16)}` }
  for (let i = 0; i < FAILED_ATTEMPTS_LIMIT; i++) {
    t.equal((await instance.inject({ url: '/metrics', remoteAddress: '203.0.113.9', headers: wrong })).statusCode, 401)
  }
  // Past the limit, that address's wrong tokens get 429, and are no longer logged one by one.
  await checkMatrix(t, instance, '203.0.113.9', 'limited', wrong)
  // The right token still opens: nobody can lock its owner out with wrong ones.
  await checkMatrix(t, instance, '203.0.113.9', 'allowed', { authorization: `Bearer ${TOKEN}` })
  // Another address is not limited.
  t.equal((await instance.inject({ url: '/metrics', remoteAddress: '198.51.100.7', headers: wrong })).statusCode, 401)
  // Requests without credentials are no attempts: a browser's first request is not counted.
  await checkMatrix(t, instance, '198.51.100.8', 'challenge')

  const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40 && entry.msg.startsWith('server-watch'))
  t.equal(warnings.length, FAILED_ATTEMPTS_LIMIT + 1)
  t.match(warnings[0], { msg: 'server-watch: wrong token', client: '203.0.113.9', peer: '203.0.113.9', url: '/metrics' })
  t.match(warnings[FAILED_ATTEMPTS_LIMIT - 1], { msg: /too many wrong tokens from this address/, client: '203.0.113.9' })
  for (const line of lines) {
    t.notOk(line.includes(TOKEN) || line.includes('wrong-guess'), 'no token in the log')
  }
})

t.test('token: the limit counts the socket peer, so a forged X-Forwarded-For neither dodges it nor fills memory', async (t) => {
  const instance = await app(t, { token: TOKEN }, { trustProxy: true })
  const statuses: number[] = []
  for (let i = 0; i < FAILED_ATTEMPTS_LIMIT + 5; i++) {
    const response = await instance.inject({
      url: '/metrics',
      remoteAddress: '203.0.113.9',
      headers: { authorization: 'Bearer wrong-guess-0123456789', 'x-forwarded-for': `10.0.${i}.1, ${'x'.repeat(4000)}` }
    })
    statuses.push(response.statusCode)
  }
  t.same(statuses, [...Array(FAILED_ATTEMPTS_LIMIT).fill(401), ...Array(5).fill(429)])
})

t.test('FailedAttempts: a window per address that ends on time, and a bounded number of addresses', async (t) => {
  let now = 0
  const attempts = new FailedAttempts(() => now, 3, 1000, 1_000_000)
  t.same(attempts.fail('a'), { lockedOut: false, globalLockout: false })
  t.same(attempts.fail('a'), { lockedOut: false, globalLockout: false })
  t.equal(attempts.retryAfterMs('a'), 0, 'below the limit')
  t.same(attempts.fail('a'), { lockedOut: true, globalLockout: false }, 'the failure that reaches the limit')
  now = 400
  t.equal(attempts.retryAfterMs('a'), 600)
  t.equal(attempts.retryAfterMs('b'), 0)
  now = 1000
  t.equal(attempts.retryAfterMs('a'), 0, 'free again when the window ends')
  t.same(attempts.fail('a'), { lockedOut: false, globalLockout: false }, 'a new window')
  for (let i = 0; i < 20_000; i++) attempts.fail(`addr-${i}`)
  t.equal(attempts.size, 10_000, 'memory is bounded')
})

t.test('issue 26.13: wrong tokens from many addresses meet a global bound; the right token still opens; the log stays short', async (t) => {
  const clock = fakeClock(t)
  const { lines, logger } = logLines()
  const instance = await app(t, { token: TOKEN }, { logger })
  const wrong = { authorization: 'Bearer wrong-guess-0123456789abcdef' }
  const status = async (remoteAddress: string, headers: Record<string, string> = wrong) =>
    (await instance.inject({ url: '/metrics', remoteAddress, headers })).statusCode
  // One address locked out first, then a flood from 10,050 distinct addresses (the issue's 127.9.x.y).
  for (let i = 0; i < FAILED_ATTEMPTS_LIMIT; i++) t.equal(await status('203.0.113.9'), 401)
  const counts = new Map<number, number>()
  for (let i = 0; i < 10_050; i++) {
    const code = await status(`127.9.${i >> 8}.${i & 255}`)
    counts.set(code, (counts.get(code) ?? 0) + 1)
  }
  const open = GLOBAL_FAILED_ATTEMPTS_LIMIT - FAILED_ATTEMPTS_LIMIT
  t.same([...counts], [[401, open], [429, 10_050 - open]], 'past the global limit, every wrong token gets 429')
  t.equal(await status('203.0.113.9'), 429, 'the first address\'s lockout is not forgotten')
  const limited = await instance.inject({ url: '/metrics', remoteAddress: '198.51.100.1', headers: wrong })
  t.match(limited.json(), { code: 'FST_SERVER_WATCH_TOO_MANY_ATTEMPTS' })
  t.equal(limited.headers['retry-after'], '60')
  // The right token opens during the global lockout, from anywhere; no credentials still gets the challenge.
  t.equal(await status('198.51.100.2', { authorization: `Bearer ${TOKEN}` }), 200)
  t.equal(await status('203.0.113.9', { authorization: `Bearer ${TOKEN}` }), 200)
  t.equal(await status('198.51.100.3', {}), 401)

  const warnings = () => lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40)
  const during = warnings()
  t.equal(during.length, WRONG_TOKEN_LOG_LINES + 2, 'the first wrong tokens one by one, then the two lockouts, nothing more')
  t.equal(during.filter((entry) => entry.msg === 'server-watch: wrong token').length, WRONG_TOKEN_LOG_LINES)
  t.match(during.filter((entry) => /too many/.test(entry.msg)), [
    { msg: /too many wrong tokens from this address/, peer: '203.0.113.9' },
    { msg: /too many wrong tokens from all addresses together/, peer: `127.9.0.${open - 1}` }
  ])
  // Once the interval ends, one summary of the rest.
  clock.tick(60_000)
  const after = warnings()
  t.equal(after.length, during.length + 1)
  const unlogged = GLOBAL_FAILED_ATTEMPTS_LIMIT - WRONG_TOKEN_LOG_LINES - 2
  const refused = 10_050 - open + 2
  // 10,040 distinct addresses in the summary: its count of them is bounded too.
  t.match(after.at(-1), {
    unlogged,
    limited: refused,
    addresses: 10_000,
    msg: `server-watch: ${unlogged + refused} more wrong tokens from at least 10000 addresses in the last 60 s (${refused} refused with 429); only the first ${WRONG_TOKEN_LOG_LINES} of an interval are logged one by one`
  })
  // And the window is over: wrong tokens get 401 again, the first address included.
  t.equal(await status('127.9.200.1'), 401)
  t.equal(await status('203.0.113.9'), 401)
})

t.test('issue 26.13: WrongTokenLog: a few lines an interval, then one summary at its end or at close', async (t) => {
  const clock = fakeClock(t)
  const { lines, logger } = logLines()
  const log = Fastify({ logger }).log
  const summary = new WrongTokenLog(log, 1000, 2)
  const fields = (key: string) => ({ client: key, peer: key, key, url: '/metrics' })
  for (const key of ['a', 'b', 'c', 'c', 'd']) summary.wrong(log, fields(key), 'server-watch: wrong token')
  summary.lockout(log, fields('c'), 'server-watch: too many wrong tokens from this address')
  summary.refused('c')
  summary.refused('e')
  const entries = () => lines.map((line) => JSON.parse(line) as { msg: string, unlogged?: number, limited?: number, addresses?: number })
  t.same(entries().map((entry) => entry.msg), ['server-watch: wrong token', 'server-watch: wrong token', 'server-watch: too many wrong tokens from this address'])
  clock.tick(1000)
  t.match(entries().at(-1), { unlogged: 3, limited: 2, addresses: 3, msg: 'server-watch: 5 more wrong tokens from 3 addresses in the last 1 s (2 refused with 429); only the first 2 of an interval are logged one by one' })
  clock.tick(5000)
  t.equal(entries().length, 4, 'a quiet interval logs nothing')
  // A new interval: two lines again, and what is left is logged at close, without waiting for the timer.
  for (const key of ['x', 'y', 'z']) summary.wrong(log, fields(key), 'server-watch: wrong token')
  t.equal(entries().length, 6)
  summary.close()
  t.match(entries().at(-1), { unlogged: 1, limited: 0, addresses: 1 })
  clock.tick(5000)
  t.equal(entries().length, 7, 'the timer was cleared at close')
})

t.test('issue 26.13: IPv6 clients are counted per /64, IPv4-mapped ones as their IPv4 address', async (t) => {
  t.equal(attemptKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64')
  t.equal(attemptKey('2001:db8:1:2::1'), '2001:db8:1:2::/64')
  t.equal(attemptKey('2001:DB8:0001:0002::ffff'), '2001:db8:1:2::/64')
  t.equal(attemptKey('2001:db8::1'), '2001:db8:0:0::/64')
  t.equal(attemptKey('::1'), '0:0:0:0::/64')
  t.equal(attemptKey('fe80::1%eth0'), 'fe80:0:0:0::/64')
  t.equal(attemptKey('64:ff9b::203.0.113.9'), '64:ff9b:0:0::/64')
  t.equal(attemptKey('::ffff:203.0.113.9'), '203.0.113.9')
  t.equal(attemptKey('::ffff:cb00:7109'), '203.0.113.9')
  t.equal(attemptKey('203.0.113.9'), '203.0.113.9')
  t.equal(attemptKey(undefined), 'unknown')
  t.equal(attemptKey('not:an::address::x'), 'not:an::address::x', 'anything else is its own key (cut to 64 characters)')

  {
    const instance = await app(t, { token: TOKEN })
    const wrong = { authorization: 'Bearer wrong-guess-0123456789abcdef' }
    const status = async (remoteAddress: string) => (await instance.inject({ url: '/metrics', remoteAddress, headers: wrong })).statusCode
    for (let i = 0; i < FAILED_ATTEMPTS_LIMIT; i++) t.equal(await status(`2001:db8:1:2::${(i + 1).toString(16)}`), 401)
    t.equal(await status('2001:db8:1:2:ffff:ffff:ffff:ffff'), 429, 'a new address in the same /64 is limited too')
    t.equal(await status('2001:db8:1:3::1'), 401, 'the next /64 is not')
    t.equal((await instance.inject({ url: '/metrics', remoteAddress: '2001:db8:1:2::99', headers: { authorization: `Bearer ${TOKEN}` } })).statusCode, 200)
  }
})

t.test('presentedSecret and the token matcher', async (t) => {
  t.equal(presentedSecret(undefined), null)
  t.equal(presentedSecret('Bearer abc'), 'abc')
  t.equal(presentedSecret('BASIC ' + Buffer.from('u:p:q').toString('base64')), 'p:q', 'the password may hold colons')
  t.equal(presentedSecret('Basic ' + Buffer.from('nocolon').toString('base64')), null)
  t.equal(presentedSecret('Digest x'), null)
  const matches = createTokenMatcher([TOKEN, OTHER_TOKEN])
  t.ok(matches(TOKEN))
  t.ok(matches(OTHER_TOKEN))
  t.notOk(matches(''))
  t.notOk(matches(TOKEN + TOKEN))
})

t.test('a custom authorize decides: sync, async, and anything but true denies', async (t) => {
  const cases: Array<[string, ServerWatchOptions['authorize'], Outcome]> = [
    ['sync true', () => true, 'allowed'],
    ['sync false', () => false, 'denied'],
    ['async true', async () => true, 'allowed'],
    ['async false', async () => false, 'denied'],
    ['throws', () => { throw new Error('no session store') }, 'denied'],
    ['rejects', async () => { throw new Error('no session store') }, 'denied'],
    ['truthy but not true', () => 'yes' as unknown as boolean, 'denied'],
    ['resolves truthy but not true', async () => 1 as unknown as boolean, 'denied'],
    ['a thenable whose then throws', () => ({ then () { throw new Error('broken then') } }) as unknown as boolean, 'denied'],
    ['a then getter that throws', () => ({ get then () { throw new Error('broken getter') } }) as unknown as boolean, 'denied'],
    ['null', () => null as unknown as boolean, 'denied']
  ]
  let current: NonNullable<ServerWatchOptions['authorize']> = () => false
  const instance = await app(t, { authorize: (request) => current(request) })
  for (const [name, authorize, outcome] of cases) {
    current = authorize!
    // The same answer from loopback and from elsewhere: the local rule is off.
    await checkMatrix(t, instance, '127.0.0.1', outcome)
    await checkMatrix(t, instance, '203.0.113.9', outcome)
    t.comment(`${name}: ${outcome}`)
  }
})

t.test('authorize and token together: a valid token lets in, otherwise authorize decides, and a refusal challenges', async (t) => {
  const instance = await app(t, { token: TOKEN, authorize: (request) => request.headers['x-sso-user'] === 'ada' })
  await checkMatrix(t, instance, '203.0.113.9', 'allowed', { authorization: `Bearer ${TOKEN}` })
  await checkMatrix(t, instance, '203.0.113.9', 'allowed', { 'x-sso-user': 'ada' })
  await checkMatrix(t, instance, '203.0.113.9', 'challenge')
})

t.test('an authorize that never settles: /health answers with the status alone, the views with 403', async (t) => {
  const { lines, logger } = logLines()
  const instance = await app(t, { authorize: () => new Promise<boolean>(() => {}), authorizeTimeoutMs: 20 }, { logger })
  await checkMatrix(t, instance, '127.0.0.1', 'denied')
  t.match(JSON.parse(lines[0]!), { level: 40, msg: 'server-watch: authorize did not settle within 20 ms; access denied' })
})

t.test('authorize sees the request, once per request', async (t) => {
  let calls = 0
  const instance = await app(t, {
    authorize: (request) => { calls++; return request.headers['x-ops'] === 'yes' }
  })
  await checkMatrix(t, instance, '203.0.113.9', 'allowed', { 'x-ops': 'yes' })
  calls = 0
  await instance.inject({ url: '/metrics', remoteAddress: '203.0.113.9' })
  t.equal(calls, 1)
})

t.test('a throwing authorize is logged as a warning and denies', async (t) => {
  const { lines, logger } = logLines()
  const instance = await app(t, { authorize: () => { throw new Error('no session store') } }, { logger })
  t.equal((await instance.inject('/metrics')).statusCode, 403)
  t.equal((await instance.inject({ url: '/dashboard/api/snapshot' })).statusCode, 403)
  const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40)
  t.equal(warnings.length, 2)
  t.match(warnings[0], { msg: /authorize threw; access denied/, err: { message: 'no session store' } })
})

t.test('requests that change state are refused cross-site, before any credential is looked at', async (t) => {
  const instance = Fastify()
  t.teardown(() => instance.close())
  const access = createAccess({ tokens: [TOKEN], authorize: null, authorizeTimeoutMs: 100, production: false, log: instance.log })
  instance.post('/act', { onRequest: access.hook }, async () => ({ done: true }))
  instance.get('/read', { onRequest: access.hook }, async () => ({ read: true }))
  const authorization = `Bearer ${TOKEN}`
  const post = (headers: Record<string, string>) => instance.inject({ method: 'POST', url: '/act', remoteAddress: '203.0.113.9', headers: { host: 'ops.example:8443', authorization, ...headers } })
  for (const headers of <Array<Record<string, string>>>[
    { origin: 'https://evil.example' },
    { origin: 'https://ops.example' }, // another port is another origin
    { origin: 'null' },
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site' },
    { origin: 'https://evil.example', host: 'ops.example:8443' }
  ]) {
    const response = await post(headers)
    t.equal(response.statusCode, 403, JSON.stringify(headers))
    t.match(response.json(), { code: 'FST_SERVER_WATCH_CROSS_SITE', message: 'cross-site requests may not change the server watch' })
  }
  for (const headers of <Array<Record<string, string>>>[{}, { origin: 'https://ops.example:8443' }, { 'sec-fetch-site': 'same-origin', origin: 'https://ops.example:8443' }, { 'sec-fetch-site': 'none' },
    // Behind a proxy that rewrites Host, the browser's own word decides.
    { 'sec-fetch-site': 'same-origin', origin: 'https://ops.example' }]) {
    t.equal((await post(headers)).statusCode, 200, JSON.stringify(headers))
  }
  // A default port is the same origin with or without its number.
  const plain = await instance.inject({ method: 'POST', url: '/act', remoteAddress: '203.0.113.9', headers: { host: 'ops.example:80', authorization, origin: 'http://ops.example' } })
  t.equal(plain.statusCode, 200)
  // Reads are not state changes: a cross-site GET is judged on its credentials alone.
  t.equal((await instance.inject({ url: '/read', remoteAddress: '203.0.113.9', headers: { authorization, origin: 'https://evil.example' } })).statusCode, 200)
})
