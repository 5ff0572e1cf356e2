/**
 * Watches the application's MongoClient (the official `mongodb` driver) from the driver's own events: pool (CMAP),
 * command monitoring and topology (SDAM). On the sampling loop it runs a bounded `ping`, and `serverStatus` on a
 * slower cadence. The plugin never loads `mongodb`, not even its types: it reads the client through client-types.ts.
 */
import type { FastifyBaseLogger } from 'fastify'
import { errorText, loggableError } from '../../error-text.js'
import { round } from '../../format.js'
import type { Collector } from '../types.js'
import type { WatchedDatabaseSnapshot } from '../../schemas/database.js'
import type { MongoClientLike, MongoTopologyDescription } from './client-types.js'
import { createCommandWatch, OWN_COMMAND_COMMENT } from './commands.js'
import { MAX_ERROR_LENGTH } from './limits.js'
import { DeadlineError, OwnCommand } from './own-command.js'
import { createPoolWatch } from './pool.js'
import { createServerStatusWatch } from './server-status.js'
import { createTopologyWatch } from './topology.js'

export { DEFAULT_SERVER_STATUS_INTERVAL_MS } from '../../options.js'
export { MAX_COMMAND_NAMES, MAX_SERVERS, OTHER_COMMANDS } from './limits.js'
export { OWN_COMMAND_COMMENT }
const PING_COMMAND = { ping: 1, comment: OWN_COMMAND_COMMENT }

export interface MongoCollectorOptions {
  /** checkTimeoutMs: bound of each ping and serverStatus. */
  timeoutMs: number
  /** When the database is down the overall status is `unhealthy` (true) or `degraded` (false). */
  required: boolean
  serverStatusIntervalMs: number
  log: FastifyBaseLogger
}

export interface MongoCollector extends Collector<WatchedDatabaseSnapshot> {
  sample (): Promise<void>
}

export function createMongoCollector (client: MongoClientLike, opts: MongoCollectorOptions): MongoCollector {
  const { timeoutMs, required, serverStatusIntervalMs, log } = opts
  const admin = client.db('admin')
  const ping = new OwnCommand((signal) => admin.command(PING_COMMAND, { signal }), timeoutMs, 'ping')
  const serverStatus = createServerStatusWatch(admin, { timeoutMs, intervalMs: serverStatusIntervalMs, log })
  let closed = false

  // Health, from the ping.
  let healthy: boolean | null = null
  let pingMs: number | null = null
  let pingError: string | undefined = 'not checked yet'
  let lastCheckedAt: number | null = null

  const commands = createCommandWatch(client)
  const pool = createPoolWatch()
  const topology = createTopologyWatch(() => pool.clear())

  let snapshot: WatchedDatabaseSnapshot = build()

  const listeners = [...commands.listeners, ...pool.listeners, ...topology.listeners]
  for (const [name, listener] of listeners) client.on(name, listener)

  // A client connected before it was watched already has a topology: start from its description. `topology` is
  // not in the driver's public types, but has been on MongoClient since driver 3; read defensively.
  const existing = (client as { topology?: { description?: MongoTopologyDescription } }).topology?.description
  if (existing?.servers instanceof Map) topology.describe(existing)

  async function checkPing (): Promise<void> {
    const started = performance.now()
    const run = ping.start()
    if (run === null) return // the last ping outlived its deadline and is still being aborted: keep its failure
    try {
      await run
      if (closed) return
      pingMs = round(performance.now() - started)
      if (healthy === false) log.info('MongoDB answers ping again')
      healthy = true
      pingError = undefined
    } catch (error) {
      if (closed) return
      pingMs = null
      pingError = pingFailure(error)
      if (healthy !== false) log.warn({ err: loggableError(error) }, 'MongoDB ping failed: the database is reported unhealthy')
      healthy = false
    }
    lastCheckedAt = Date.now()
  }

  /**
   * A ping that hit its deadline while the driver was still selecting a server says only "timed out": the driver's
   * own cause (the last heartbeat failure: ECONNREFUSED, a TLS or DNS error) comes first when there is one.
   */
  function pingFailure (error: unknown): string {
    const cause = error instanceof DeadlineError ? topology.failureCause() : undefined
    return errorText(cause === undefined ? error : `${cause} (${errorText(error, MAX_ERROR_LENGTH)})`, MAX_ERROR_LENGTH)
  }

  function build (): WatchedDatabaseSnapshot {
    const figures = {
      required,
      pingMs,
      lastCheckedAt: lastCheckedAt === null ? null : new Date(lastCheckedAt).toISOString(),
      pool: pool.build(),
      commands: commands.build(),
      topology: topology.build(),
      serverStatus: serverStatus.build()
    }
    return healthy === true && pingError === undefined
      ? { status: 'healthy', ...figures }
      : { status: 'unhealthy', error: pingError ?? 'unknown', ...figures }
  }

  return {
    async sample () {
      if (closed) return
      const now = Date.now()
      const work = [checkPing()]
      // Only while the last ping answered: a database that is down would cost a second timeout for nothing.
      if (healthy === true && serverStatus.due(now)) work.push(serverStatus.read(now))
      await Promise.all(work)
      if (!closed) snapshot = build()
    },
    read () {
      return snapshot
    },
    close () {
      if (closed) return
      closed = true
      for (const [name, listener] of listeners) client.off(name, listener)
      const reason = new Error('server watch closed')
      ping.stop(reason)
      serverStatus.close(reason)
    }
  }
}
