import diagnostics from 'node:diagnostics_channel'
import Fastify from 'fastify'
import t from 'tap'
import type { MongoClient } from 'mongodb'
import serverWatch, { type ServerWatchOptions } from '../../lib/plugin.js'
import { mongoClient, mongoServer } from './harness.js'

const CHANNELS = ['undici:request:create', 'undici:request:headers', 'undici:request:error', 'http.client.request.start', 'http.client.response.finish', 'http.client.request.error']

/** The hooks of one app route as printRoutes lists them, and what the plugin subscribed to while the app was open. */
async function hooksOf (options: ServerWatchOptions, client: MongoClient): Promise<{ hooks: string, listeners: number[], channels: boolean[] }> {
  const app = Fastify()
  await app.register(serverWatch, options)
  app.get('/route', async () => 'ok')
  await app.ready()
  const printed = app.printRoutes({ includeHooks: true, commonPrefix: false })
  const hooks = printed.slice(printed.indexOf('/route (GET)')).split(/\n(?=\S)/)[0]!
  const figures = { hooks, listeners: listeners(client), channels: CHANNELS.map((name) => diagnostics.hasSubscribers(name)) }
  await app.close()
  return figures
}

const listeners = (client: MongoClient) => ['commandStarted', 'commandSucceeded', 'commandFailed'].map((event) => client.listenerCount(event))

t.test('issue 29: with breakdown off the request path is what it was: the same hooks, no listener, no channel', async (t) => {
  const server = await mongoServer(t)
  const client = await mongoClient(t, server.uri)
  const reference = await hooksOf({ mongo: client }, client)
  t.same(reference.channels, CHANNELS.map(() => false), 'no diagnostics channel subscribed')
  for (const off of [{ breakdown: false }, { breakdown: { database: false, outbound: false } }]) {
    t.same(await hooksOf({ mongo: client, ...off }, client), reference, `${JSON.stringify(off)}: the same hooks, listeners and channels as without the option`)
  }

  const on = await hooksOf({ mongo: client, breakdown: true }, client)
  const expected = reference.hooks
    .replaceAll('• (onRequest) ["onRequest()"]', '• (onRequest) ["onRequest()","onRequest()"]')
    .replace(/(• \(onSend\) .*\n)/g, '$1    • (onResponse) ["onResponse()"]\n')
  t.equal(on.hooks, expected, 'on: one more onRequest hook and an onResponse hook, nothing else')
  t.same(on.listeners, reference.listeners.map((count) => count + 1), 'on: one listener per command event')
  t.same(on.channels, CHANNELS.map(() => true))
  t.same(listeners(client), [0, 0, 0], 'closed: every listener is gone')
  t.same(CHANNELS.map((name) => diagnostics.hasSubscribers(name)), CHANNELS.map(() => false), 'closed: unsubscribed')
})

t.test('issue 29: an invalid breakdown option fails at register, naming its full path', async (t) => {
  for (const [breakdown, message] of [
    [{ nPlusOneCalls: 0 }, '"breakdown.nPlusOneCalls" option must be an integer from 2 to 10000, got 0'],
    [{ outbond: true }, '"breakdown.outbond" option must be one of database, outbound, nPlusOneCalls (unknown option; did you mean "outbound"?), got a boolean'],
    ['on', '"breakdown" option must be a boolean or { database?, outbound?, nPlusOneCalls? }, got "on"']
  ] as const) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(serverWatch, { breakdown: breakdown as never }) }, { code: 'FST_SERVER_WATCH_INVALID_OPTION', message })
    await app.close()
  }
})
