import t, { type Test } from 'tap'
import { Value } from '@sinclair/typebox/value'
import Fastify from 'fastify'
import { MongoClient } from 'mongodb'
import serverWatch, { type ServerWatchOptions } from '../../lib/plugin.js'
import { HEALTH_JSON, prefersHealthJson } from '../../lib/health-json/negotiation.js'
import { HealthJsonSchema, type HealthJson } from '../../lib/schemas/health-json.js'
import { buildApp } from '../helpers/app.js'
import { startMongoServer } from '../helpers/mongo-server.js'

const ISO_8601 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/

async function app (test: Test, options: ServerWatchOptions = {}) {
  const instance = await buildApp(options)
  test.teardown(() => instance.close())
  await instance.ready()
  await instance.serverWatch.refresh()
  // The host's CPU times move in 10 ms ticks: a figure once two samples lie a tick apart (the first two may not).
  while (instance.serverWatch.snapshot().cpu.systemPercent === null) await instance.serverWatch.refresh()
  return instance
}

/** The rules of draft-inadarei-api-health-check-06 that a response can be checked against. */
function checkDraftRules (test: Test, statusCode: number, contentType: unknown, body: HealthJson) {
  test.match(contentType, /^application\/health\+json(;|$)/, 'media type application/health+json')
  test.ok(Value.Check(HealthJsonSchema, body), `schema: ${[...Value.Errors(HealthJsonSchema, body)].map((e) => `${e.path} ${e.message}`).join(', ')}`)
  test.ok(['pass', 'warn', 'fail'].includes(body.status))
  if (body.status === 'fail') test.ok(statusCode >= 400 && statusCode < 600, 'fail: 4xx-5xx')
  else test.ok(statusCode >= 200 && statusCode < 400, `${body.status}: 2xx-3xx`)
  if (body.status === 'pass') test.notOk('output' in body, 'no output for pass')
  for (const [key, details] of Object.entries(body.checks ?? {})) {
    test.match(key, /^[^:]+(:[^:]+)?$/, `${key}: "componentName:measurementName"`)
    test.ok(Array.isArray(details) && details.length > 0, `${key}: an array`)
    for (const detail of details) {
      test.ok(['pass', 'warn', 'fail'].includes(detail.status), `${key}: status`)
      test.equal('observedValue' in detail, 'observedUnit' in detail, `${key}: observedUnit goes with observedValue`)
      test.ok(typeof detail.componentType === 'string', `${key}: componentType`)
      if (detail.time !== undefined) test.match(detail.time, ISO_8601, `${key}: time`)
      if (detail.status === 'pass') test.notOk('output' in detail, `${key}: no output for pass`)
    }
  }
}

async function healthJson (instance: Awaited<ReturnType<typeof app>>, remoteAddress = '127.0.0.1') {
  const response = await instance.inject({ url: '/health', remoteAddress, headers: { accept: HEALTH_JSON } })
  return { response, body: response.json() as HealthJson }
}

t.test('Accept negotiation: health+json only when asked for and preferred', async (t) => {
  t.notOk(prefersHealthJson(undefined))
  t.notOk(prefersHealthJson('*/*'))
  t.notOk(prefersHealthJson('application/json'))
  t.notOk(prefersHealthJson('text/html,application/xhtml+xml,*/*;q=0.8'))
  t.ok(prefersHealthJson('application/health+json'))
  t.ok(prefersHealthJson('Application/Health+JSON'))
  t.ok(prefersHealthJson('application/health+json, application/json'), 'a tie goes to the type named')
  t.ok(prefersHealthJson('application/json;q=0.5, application/health+json'))
  t.notOk(prefersHealthJson('application/json, application/health+json;q=0.5'))
  t.notOk(prefersHealthJson('application/health+json;q=0'))
  t.notOk(prefersHealthJson('application/health+json;q=nonsense'))
  t.ok(prefersHealthJson('application/health+json;q=0.9, */*;q=0.1'))
  t.notOk(prefersHealthJson('application/health+json;q=0.5, application/*'), 'application/* (q=1) also matches application/json')
})

t.test('health+json: a healthy app passes, with the draft\'s checks and units', async (t) => {
  const instance = await app(t, { checks: { 'redis:ping': () => true } })
  const { response, body } = await healthJson(instance)
  t.equal(response.statusCode, 200)
  t.equal(response.headers['cache-control'], 'no-store')
  t.equal(response.headers.vary, 'Accept')
  checkDraftRules(t, response.statusCode, response.headers['content-type'], body)
  t.equal(body.status, 'pass')
  t.match(body.serviceId, /^.+:\d+$/)
  t.equal(typeof body.description, 'string')
  const checks = body.checks!
  t.same(Object.keys(checks).sort(), [
    'cpu:utilization', 'eventLoop:delay', 'eventLoop:utilization', 'memory:utilization', 'redis_ping:responseTime', 'uptime'
  ], 'no mongodb key without a client; a colon in a check name is replaced')
  t.match(checks.uptime![0], { componentType: 'system', observedUnit: 's', status: 'pass' })
  t.ok(checks.uptime![0]!.observedValue! >= 0)
  const snapshot = instance.serverWatch.snapshot()
  t.match(checks['memory:utilization'], [
    { componentId: 'system', componentType: 'system', observedValue: snapshot.memory.system.percent, observedUnit: '%' },
    { componentId: 'process', observedValue: snapshot.memory.process.memoryPercent, observedUnit: '%' }
  ])
  t.match(checks['cpu:utilization'], [{ componentId: 'system', observedUnit: '%' }, { componentId: 'process', observedUnit: '%' }])
  t.match(checks['redis_ping:responseTime'], [{ componentId: 'redis:ping', componentType: 'component', observedUnit: 'ms', status: 'pass' }])
  // The plain JSON snapshot is still the default.
  const plain = await instance.inject('/health')
  t.match(plain.headers['content-type'], /^application\/json/)
  t.ok('application' in plain.json())
})

t.test('health+json: an optional failure warns (200), a required one fails (503), with output', async (t) => {
  let requiredFails = false
  const instance = await app(t, {
    checks: {
      optional: { check: () => { throw new Error('cache cold') }, required: false },
      required: () => { if (requiredFails) throw new Error('queue down') }
    }
  })
  let { response, body } = await healthJson(instance)
  t.equal(response.statusCode, 200)
  checkDraftRules(t, response.statusCode, response.headers['content-type'], body)
  t.equal(body.status, 'warn')
  t.equal(body.output, 'optional: cache cold')
  t.match(body.checks!['optional:responseTime'], [{ status: 'fail', output: 'cache cold' }], 'the component itself fails')
  t.match(body.checks!['required:responseTime'], [{ status: 'pass' }])

  requiredFails = true
  await instance.serverWatch.refresh()
  ;({ response, body } = await healthJson(instance))
  t.equal(response.statusCode, 503)
  checkDraftRules(t, response.statusCode, response.headers['content-type'], body)
  t.equal(body.status, 'fail')
  t.equal(body.output, 'optional: cache cold; required: queue down')

  const denied = await healthJson(instance, '203.0.113.9')
  t.equal(denied.response.statusCode, 503)
  t.same(denied.body, { status: 'fail' }, 'an unauthorised caller gets the status alone')
  checkDraftRules(t, denied.response.statusCode, denied.response.headers['content-type'], denied.body)
})

t.test('health+json: MongoDB is a datastore with its ping as responseTime', async (t) => {
  const mongo = await startMongoServer()
  const client = new MongoClient(mongo.uri, { serverSelectionTimeoutMS: 300, connectTimeoutMS: 300, heartbeatFrequencyMS: 500 })
  const instance = await buildApp({ mongo: { client, required: false }, checkTimeoutMs: 300 })
  t.teardown(async () => {
    await instance.close()
    await client.close()
    await mongo.stop()
  })
  await instance.ready()
  await instance.serverWatch.refresh()
  let { response, body } = await healthJson(instance)
  checkDraftRules(t, response.statusCode, response.headers['content-type'], body)
  t.match(body.checks!['mongodb:responseTime'], [{ componentId: 'mongodb', componentType: 'datastore', observedUnit: 'ms', status: 'pass' }])
  t.ok(body.checks!['mongodb:responseTime']![0]!.observedValue! >= 0)

  mongo.setMode('blackhole')
  await instance.serverWatch.refresh()
  ;({ response, body } = await healthJson(instance))
  checkDraftRules(t, response.statusCode, response.headers['content-type'], body)
  t.equal(body.status, 'warn', 'an optional database down warns')
  t.equal(response.statusCode, 200)
  t.match(body.checks!['mongodb:responseTime'], [{ componentType: 'datastore', status: 'fail', output: /.+/ }])
  t.match(body.output, /^mongodb: /)
})

t.test('/health/live answers pass to anyone, whatever the health', async (t) => {
  const instance = await app(t, { authorize: () => false, checks: { down: () => { throw new Error('down') } } })
  t.equal(instance.serverWatch.status(), 'unhealthy')
  for (const accept of [undefined, HEALTH_JSON]) {
    const response = await instance.inject({ url: '/health/live', remoteAddress: '203.0.113.9', headers: accept === undefined ? {} : { accept } })
    t.equal(response.statusCode, 200)
    t.same(response.json(), { status: 'pass' })
    t.match(response.headers['content-type'], accept === undefined ? /^application\/json/ : /^application\/health\+json/)
    t.equal(response.headers['cache-control'], 'no-store')
  }
  const head = await instance.inject({ method: 'HEAD', url: '/health/live' })
  t.equal(head.statusCode, 200)
  t.equal(head.body, '')
})

t.test('/health/ready: 503 until the first sample, 200 when only optional checks fail, 503 when a required one does', async (t) => {
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  let requiredFails = false
  const instance = await buildApp({
    checkTimeoutMs: 5000,
    checks: {
      slowStart: () => gate,
      required: () => { if (requiredFails) throw new Error('down') },
      optional: { check: () => { throw new Error('meh') }, required: false }
    }
  })
  t.teardown(() => instance.close())
  await instance.ready()
  const pending = await instance.inject({ url: '/health/ready', remoteAddress: '203.0.113.9' })
  t.equal(pending.statusCode, 503, 'the first sample has not completed')
  t.same(pending.json(), { status: 'fail' })
  t.equal((await instance.inject({ method: 'HEAD', url: '/health/ready' })).statusCode, 503)
  const early = await healthJson(instance)
  checkDraftRules(t, early.response.statusCode, early.response.headers['content-type'], early.body)
  t.match(early.body.checks!['slowStart:responseTime'], [{ status: 'fail', output: 'not checked yet' }], 'a required check not checked yet fails (issue 15.1)')
  t.notOk('time' in early.body.checks!['cpu:utilization']![0]!, 'no time before the first sample')
  release()
  await instance.serverWatch.refresh()

  const ready = await instance.inject({ url: '/health/ready', remoteAddress: '203.0.113.9' })
  t.equal(ready.statusCode, 200)
  t.same(ready.json(), { status: 'warn' }, 'degraded is still ready')
  t.equal((await instance.inject({ method: 'HEAD', url: '/health/ready' })).statusCode, 200)

  requiredFails = true
  await instance.serverWatch.refresh()
  const notReady = await instance.inject({ url: '/health/ready', headers: { accept: HEALTH_JSON } })
  t.equal(notReady.statusCode, 503)
  t.same(notReady.json(), { status: 'fail' })
  t.match(notReady.headers['content-type'], /^application\/health\+json/)
  t.equal((await instance.inject({ method: 'HEAD', url: '/health/ready' })).statusCode, 503)
})

t.test('HEAD /health answers the same status code as GET, even with exposeHeadRoutes off', async (t) => {
  const instance = Fastify({ exposeHeadRoutes: false })
  let fails = false
  await instance.register(serverWatch, { sampleIntervalMs: 50, checks: { db: () => { if (fails) throw new Error('x') } } })
  t.teardown(() => instance.close())
  await instance.ready()
  await instance.serverWatch.refresh()
  for (const remoteAddress of ['127.0.0.1', '203.0.113.9']) {
    const head = await instance.inject({ method: 'HEAD', url: '/health', remoteAddress })
    t.equal(head.statusCode, 200)
    t.equal(head.body, '')
  }
  fails = true
  await instance.serverWatch.refresh()
  for (const remoteAddress of ['127.0.0.1', '203.0.113.9']) {
    t.equal((await instance.inject({ method: 'GET', url: '/health', remoteAddress })).statusCode, 503)
    t.equal((await instance.inject({ method: 'HEAD', url: '/health', remoteAddress })).statusCode, 503)
    t.equal((await instance.inject({ method: 'HEAD', url: '/health', remoteAddress, headers: { accept: HEALTH_JSON } })).statusCode, 503)
  }
  t.equal((await instance.inject({ method: 'HEAD', url: '/metrics' })).statusCode, 200)
})

t.test('probe paths follow healthPath and the prefix, and are off with it', async (t) => {
  const prefixed = await app(t, { prefix: '/ops', healthPath: '/status' })
  t.equal((await prefixed.inject('/ops/status/live')).statusCode, 200)
  t.equal((await prefixed.inject('/ops/status/ready')).statusCode, 200)
  t.equal((await prefixed.inject('/health/live')).statusCode, 404)
  const root = Fastify()
  await root.register(serverWatch, { healthPath: '/' })
  t.teardown(() => root.close())
  await root.ready()
  await root.serverWatch.refresh()
  t.equal((await root.inject('/live')).statusCode, 200)
  t.equal((await root.inject('/ready')).statusCode, 200)
  const off = await app(t, { healthPath: false })
  for (const url of ['/health', '/health/live', '/health/ready']) t.equal((await off.inject(url)).statusCode, 404, url)
})
