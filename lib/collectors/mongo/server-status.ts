/** The server's own figures, from `serverStatus`: read on a slower cadence than the ping, and only while it answers. */
import type { MongoAdminDb, MongoDocument as Document } from './client-types.js'
import type { FastifyBaseLogger } from 'fastify'
import { errorText } from '../../error-text.js'
import { round } from '../../format.js'
import type { ServerStatusSnapshot } from '../../schemas/database.js'
import { OWN_COMMAND_COMMENT } from './commands.js'
import { MAX_ERROR_LENGTH } from './limits.js'
import { OwnCommand } from './own-command.js'

const MIB = 1024 * 1024
/** Sections serverStatus may skip: we read connections, opcounters and mem only. */
const SERVER_STATUS_COMMAND = {
  serverStatus: 1, comment: OWN_COMMAND_COMMENT, repl: 0, metrics: 0, locks: 0, wiredTiger: 0, tcmalloc: 0, transactions: 0
}
const NOT_AUTHORIZED_CODES = new Set([13, 8000]) // Unauthorized; AtlasError (shared tiers refuse serverStatus)

interface ServerStatusReading {
  time: number
  version: string | null
  uptimeSeconds: number | null
  connections: ServerStatusSnapshot['connections']
  opcounters: ServerStatusSnapshot['opcounters']
  residentMemory: number | null
}

export interface ServerStatusWatchOptions {
  /** Bound of each serverStatus. */
  timeoutMs: number
  intervalMs: number
  log: FastifyBaseLogger
}

export interface ServerStatusWatch {
  /** The interval has passed since the last read began, and that read has settled. */
  due (now: number): boolean
  /** Reads serverStatus; the next read is due `intervalMs` after `now`. */
  read (now: number): Promise<void>
  build (): ServerStatusSnapshot
  /** Aborts a read in flight; a read that settles afterwards changes nothing. */
  close (reason: Error): void
}

export function createServerStatusWatch (admin: MongoAdminDb, opts: ServerStatusWatchOptions): ServerStatusWatch {
  const { timeoutMs, intervalMs, log } = opts
  const serverStatusCommand = new OwnCommand((signal) => admin.command(SERVER_STATUS_COMMAND, { signal }), timeoutMs, 'serverStatus')
  let closed = false
  let nextServerStatusAt = 0
  let serverStatusAvailable: boolean | null = null
  let serverStatusError: string | undefined
  let serverStatusDeniedLogged = false
  let lastServerStatus: ServerStatusReading | null = null
  let previousServerStatus: ServerStatusReading | null = null

  async function readServerStatus (): Promise<void> {
    const run = serverStatusCommand.start()
    if (run === null) return
    try {
      const reply = await run
      if (closed) return
      previousServerStatus = lastServerStatus
      lastServerStatus = parseServerStatus(reply)
      serverStatusAvailable = true
      serverStatusError = undefined
    } catch (error) {
      if (closed) return
      previousServerStatus = lastServerStatus = null
      serverStatusAvailable = false
      serverStatusError = errorText(error, MAX_ERROR_LENGTH)
      const code = (error as { code?: unknown }).code
      if (typeof code === 'number' && NOT_AUTHORIZED_CODES.has(code) && !serverStatusDeniedLogged) {
        serverStatusDeniedLogged = true
        log.info('MongoDB serverStatus is not authorised for this user: its figures stay null (the clusterMonitor role allows it)')
      }
    }
  }

  function buildServerStatus (): ServerStatusSnapshot {
    const last = lastServerStatus
    const previous = previousServerStatus
    let perSecond: ServerStatusSnapshot['opcountersPerSecond'] = null
    if (last?.opcounters != null && previous?.opcounters != null && last.time > previous.time) {
      const seconds = (last.time - previous.time) / 1000
      const [now, before] = [last.opcounters, previous.opcounters]
      const rate = (key: keyof typeof now) => round(Math.max(0, now[key] - before[key]) / seconds, 2)
      perSecond = {
        insert: rate('insert'),
        query: rate('query'),
        update: rate('update'),
        delete: rate('delete'),
        getmore: rate('getmore'),
        command: rate('command')
      }
    }
    return {
      available: serverStatusAvailable,
      ...(serverStatusError === undefined ? {} : { error: serverStatusError }),
      sampledAt: last === null ? null : new Date(last.time).toISOString(),
      version: last?.version ?? null,
      uptimeSeconds: last?.uptimeSeconds ?? null,
      connections: last?.connections ?? null,
      opcounters: last?.opcounters ?? null,
      opcountersPerSecond: perSecond,
      residentMemory: last?.residentMemory ?? null
    }
  }

  return {
    due (now) {
      return now >= nextServerStatusAt && !serverStatusCommand.busy
    },
    read (now) {
      nextServerStatusAt = now + intervalMs
      return readServerStatus()
    },
    build: buildServerStatus,
    close (reason) {
      closed = true
      serverStatusCommand.stop(reason)
    }
  }
}

/** BSON numbers may arrive as double, Int32 or Long depending on the client's promote options. */
function toNumber (value: unknown): number | null {
  if (typeof value === 'number') return value
  if (typeof value === 'bigint') return Number(value)
  if (value !== null && typeof value === 'object' && typeof (value as { toNumber?: unknown }).toNumber === 'function') {
    return (value as { toNumber (): number }).toNumber()
  }
  return null
}

function parseServerStatus (reply: Document): ServerStatusReading {
  const connections = reply.connections as Document | undefined
  const opcounters = reply.opcounters as Document | undefined
  const resident = toNumber((reply.mem as Document | undefined)?.resident)
  const count = (value: unknown) => toNumber(value) ?? 0
  return {
    time: Date.now(),
    version: typeof reply.version === 'string' ? reply.version : null,
    uptimeSeconds: toNumber(reply.uptime),
    connections: connections == null
      ? null
      : { current: count(connections.current), available: count(connections.available), totalCreated: count(connections.totalCreated) },
    opcounters: opcounters == null
      ? null
      : {
          insert: count(opcounters.insert),
          query: count(opcounters.query),
          update: count(opcounters.update),
          delete: count(opcounters.delete),
          getmore: count(opcounters.getmore),
          command: count(opcounters.command)
        },
    residentMemory: resident === null ? null : resident * MIB // serverStatus reports mem.resident in MiB
  }
}
