/** What the breakdown tests share: an app with the breakdown's hooks, as the plugin adds them. */
import Fastify, { type FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { MongoClient, type MongoClientOptions } from 'mongodb'
import { createBreakdown, type Breakdown } from '../../lib/breakdown/index.js'
import { normalizeBreakdown, type BreakdownOptions } from '../../lib/breakdown/options.js'
import type { MongoClientLike } from '../../lib/collectors/mongo/client-types.js'
import { startMongoServer, type TestMongoServer } from '../helpers/mongo-server.js'

export const silentLog = { info () {}, warn () {}, error () {}, debug () {}, trace () {}, fatal () {}, child () { return silentLog }, level: 'silent' } as never

export async function mongoServer (t: Test, opts?: Parameters<typeof startMongoServer>[0]): Promise<TestMongoServer> {
  const server = await startMongoServer(opts)
  t.teardown(() => server.stop())
  return server
}

export async function mongoClient (t: Test, uri: string, options: MongoClientOptions = {}): Promise<MongoClient> {
  const client = new MongoClient(uri, { monitorCommands: true, serverSelectionTimeoutMS: 2000, heartbeatFrequencyMS: 60_000, ...options })
  await client.connect()
  t.teardown(() => client.close())
  return client
}

export interface BreakdownApp {
  app: FastifyInstance
  breakdown: Breakdown
}

/** A Fastify app whose requests are broken down; routes are added by the caller before `ready()`. */
export function breakdownApp (t: Test, { mongo = null, options = true, maxRoutes = 200, log = silentLog }: {
  mongo?: MongoClientLike | null
  options?: boolean | BreakdownOptions
  maxRoutes?: number
  log?: never
} = {}): BreakdownApp {
  const app = Fastify()
  const breakdown = createBreakdown(normalizeBreakdown(options)!, { mongo, maxRoutes, log })
  app.addHook('onRequest', breakdown.hooks.onRequest)
  // The plugin's request hooks call settle when they record a response; here, its nearest hook.
  app.addHook('onResponse', (request, _reply, done) => { breakdown.hooks.settle(request); done() })
  breakdown.start()
  t.teardown(async () => {
    breakdown.stop()
    await app.close()
  })
  return { app, breakdown }
}
