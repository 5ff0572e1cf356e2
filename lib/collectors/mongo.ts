/**
 * Watches the application's MongoClient (the official `mongodb` driver) from the driver's own events: pool (CMAP),
 * command monitoring and topology (SDAM). On the sampling loop it runs a bounded `ping`, and `serverStatus` on a
 * slower cadence. The driver is only ever imported as a type: the plugin never loads `mongodb` at runtime.
 */
import type {
  CommandFailedEvent,
  CommandStartedEvent,
  CommandSucceededEvent,
  ConnectionCheckedInEvent,
  ConnectionCheckedOutEvent,
  ConnectionCheckOutFailedEvent,
  ConnectionCheckOutStartedEvent,
  ConnectionClosedEvent,
  ConnectionCreatedEvent,
  ConnectionPoolClosedEvent,
  Document,
  MongoClient,
  ServerHeartbeatFailedEvent,
  ServerHeartbeatSucceededEvent,
  TopologyDescription,
  TopologyDescriptionChangedEvent
} from 'mongodb'
import type { FastifyBaseLogger } from 'fastify'
import { Histogram, HistogramWindow, bucketIndex } from '../histogram.js'
import { errorMessage, round } from '../format.js'
import type { Collector } from './types.js'
import type {
  CommandStats, CommandsSnapshot, DatabaseSnapshot, PoolSnapshot, ServerSnapshot, ServerStatusSnapshot, TopologySnapshot
} from '../schemas/database.js'

export { DEFAULT_SERVER_STATUS_INTERVAL_MS } from '../options.js'
/** Distinct command names kept; the rest share OTHER_COMMANDS. Drivers send a few dozen names at most. */
export const MAX_COMMAND_NAMES = 50
export const OTHER_COMMANDS = 'other'
export const MAX_SERVERS = 50
/**
 * The collector's own `ping` and `serverStatus` carry this comment so that they stay out of the application's
 * command stats: `commandStarted` is the only event that shows the command document, so it notes their
 * requestIds and the matching succeeded/failed events are skipped. The requestId is unique per client, unlike
 * the command name (the application may ping too). The document is read, never kept.
 */
export const OWN_COMMAND_COMMENT = 'fastify-server-watch'
const MAX_ERROR_LENGTH = 200
const MIB = 1024 * 1024
/** Sections serverStatus may skip: we read connections, opcounters and mem only. */
const SERVER_STATUS_COMMAND = {
  serverStatus: 1, comment: OWN_COMMAND_COMMENT, repl: 0, metrics: 0, locks: 0, wiredTiger: 0, tcmalloc: 0, transactions: 0
}
const PING_COMMAND = { ping: 1, comment: OWN_COMMAND_COMMENT }
/** Waiting check-outs remembered per pool: past this, the oldest are forgotten. */
const MAX_TRACKED_WAITERS = 10_000
/** Event times are whole milliseconds and durations are floored: a start matches within this. */
const CLOCK_SLACK_MS = 2
const NOT_AUTHORIZED_CODES = new Set([13, 8000]) // Unauthorized; AtlasError (shared tiers refuse serverStatus)

export interface MongoCollectorOptions {
  /** checkTimeoutMs: bound of each ping and serverStatus. */
  timeoutMs: number
  /** When the database is down the overall status is `unhealthy` (true) or `degraded` (false). */
  required: boolean
  serverStatusIntervalMs: number
  log: FastifyBaseLogger
}

export interface MongoCollector extends Collector<DatabaseSnapshot> {
  sample (): Promise<void>
}

/**
 * One of the collector's own commands: never two in flight (a run that outlives its deadline blocks the next one
 * until the driver settles it), each bounded by a deadline that aborts it through the driver's `signal` option,
 * and whose timer is cleared as soon as it settles.
 */
class OwnCommand {
  private pending = false
  private cancel: ((reason: Error) => void) | null = null

  constructor (
    private readonly run: (signal: AbortSignal) => Promise<Document>,
    private readonly timeoutMs: number,
    private readonly what: string
  ) {}

  get busy (): boolean { return this.pending }

  /** The reply, or a rejection with the error or at the deadline; null while the previous run is unsettled. */
  start (): Promise<Document> | null {
    if (this.pending) return null
    this.pending = true
    const controller = new AbortController()
    let work: Promise<Document>
    try {
      work = this.run(controller.signal)
    } catch (error) {
      work = Promise.reject(error)
    }
    const settled = (): void => { this.pending = false }
    work.then(settled, settled)
    return new Promise<Document>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.stop(new Error(`${this.what} timed out after ${this.timeoutMs} ms`))
      }, this.timeoutMs)
      const done = (): void => { clearTimeout(timer); this.cancel = null }
      this.cancel = (reason) => { done(); controller.abort(reason); reject(reason) }
      work.then((reply) => { done(); resolve(reply) }, (error: unknown) => { done(); reject(error) })
    })
  }

  stop (reason: Error): void {
    this.cancel?.(reason)
  }
}

class CommandCounter {
  count = 0
  failures = 0
  readonly histogram = new Histogram()
}

interface Pool {
  /** Connection ids seen open: a client connected before it was watched shows its older connections once used. */
  readonly open: Set<number | string>
  readonly checkedOut: Set<number | string>
  /** Start times (epoch ms) of the check-outs still waiting, oldest first. */
  readonly waitingSince: number[]
}

interface Server {
  address: string
  type: string
  error: string | undefined
  heartbeatMs: number | null
  lastHeartbeatAt: number | null
}

interface ServerStatusReading {
  time: number
  version: string | null
  uptimeSeconds: number | null
  connections: ServerStatusSnapshot['connections']
  opcounters: ServerStatusSnapshot['opcounters']
  residentMemory: number | null
}

export function createMongoCollector (client: MongoClient, opts: MongoCollectorOptions): MongoCollector {
  const { timeoutMs, required, serverStatusIntervalMs, log } = opts
  const admin = client.db('admin')
  const ping = new OwnCommand((signal) => admin.command(PING_COMMAND, { signal }), timeoutMs, 'ping')
  const serverStatusCommand = new OwnCommand((signal) => admin.command(SERVER_STATUS_COMMAND, { signal }), timeoutMs, 'serverStatus')
  let closed = false

  // Health, from the ping.
  let healthy: boolean | null = null
  let pingMs: number | null = null
  let pingError: string | undefined = 'not checked yet'
  let lastCheckedAt: number | null = null

  // Commands.
  const ownRequestIds = new Set<number>()
  const commands = new Map<string, CommandCounter>()
  const allCommands = new CommandCounter()
  const recentCommands = new HistogramWindow(allCommands.histogram)

  // Pool.
  const pools = new Map<string, Pool>()
  let created = 0
  let closedConnections = 0
  let checkouts = 0
  let checkoutFailures = 0
  let cleared = 0
  const checkoutWait = new Histogram()

  // Topology.
  let topologyType = 'Unknown'
  let clientClosed = false
  const servers = new Map<string, Server>()
  let heartbeatMs: number | null = null
  let heartbeatFailures = 0
  let lastTopologyChangeAt: number | null = null

  // serverStatus.
  let nextServerStatusAt = 0
  let serverStatusAvailable: boolean | null = null
  let serverStatusError: string | undefined
  let serverStatusDeniedLogged = false
  let lastServerStatus: ServerStatusReading | null = null
  let previousServerStatus: ServerStatusReading | null = null

  let snapshot: DatabaseSnapshot = build()

  function onCommandStarted (event: CommandStartedEvent): void {
    if ((event.commandName === 'ping' || event.commandName === 'serverStatus') &&
      (event.command as { comment?: unknown }).comment === OWN_COMMAND_COMMENT) {
      if (ownRequestIds.size > 16) ownRequestIds.clear() // a started event never followed by its end: forget it
      ownRequestIds.add(event.requestId)
    }
  }
  function onCommandSucceeded (event: CommandSucceededEvent): void {
    if (!ownRequestIds.delete(event.requestId)) recordCommand(event.commandName, event.duration, false)
  }
  function onCommandFailed (event: CommandFailedEvent): void {
    if (!ownRequestIds.delete(event.requestId)) recordCommand(event.commandName, event.duration, true)
  }
  function recordCommand (name: string, durationMs: number, failed: boolean): void {
    let counter = commands.get(name)
    if (counter === undefined) {
      const key = commands.size < MAX_COMMAND_NAMES ? name : OTHER_COMMANDS
      counter = commands.get(key) ?? new CommandCounter()
      commands.set(key, counter)
    }
    const index = bucketIndex(durationMs)
    for (const stats of [counter, allCommands]) {
      stats.count++
      if (failed) stats.failures++
      stats.histogram.recordAt(index, durationMs)
    }
  }

  function poolOf (address: string): Pool {
    let pool = pools.get(address)
    if (pool === undefined) {
      pool = { open: new Set(), checkedOut: new Set(), waitingSince: [] }
      pools.set(address, pool)
    }
    return pool
  }
  function onConnectionCreated (event: ConnectionCreatedEvent): void {
    created++
    poolOf(event.address).open.add(event.connectionId)
  }
  function onConnectionClosed (event: ConnectionClosedEvent): void {
    closedConnections++
    const pool = pools.get(event.address)
    pool?.open.delete(event.connectionId)
    pool?.checkedOut.delete(event.connectionId)
  }
  function onConnectionCheckOutStarted (event: ConnectionCheckOutStartedEvent): void {
    const queue = poolOf(event.address).waitingSince
    if (queue.length >= MAX_TRACKED_WAITERS) queue.shift()
    queue.push(event.time.getTime())
  }
  /**
   * Counting starts minus ends would drift upwards for ever: the driver emits no event when a queued check-out is
   * abandoned through an AbortSignal (mongodb 7 `ConnectionPool.checkOut`), which is how this collector bounds its
   * ping. The wait queue is first in, first out, so the check-out that ends (started `durationMS` ago) takes its
   * own start off the queue and every older one with it: those were served or abandoned.
   */
  function onCheckOutEnded (event: ConnectionCheckedOutEvent | ConnectionCheckOutFailedEvent): void {
    const queue = pools.get(event.address)?.waitingSince
    if (queue === undefined || queue.length === 0) return
    if (typeof event.durationMS !== 'number') { // drivers before 6.9 report no duration
      queue.shift()
      return
    }
    const startedAt = event.time.getTime() - event.durationMS
    while (queue.length > 0 && queue[0]! < startedAt - CLOCK_SLACK_MS) queue.shift()
    if (queue.length > 0 && queue[0]! <= startedAt + CLOCK_SLACK_MS) queue.shift()
  }
  function onConnectionCheckedOut (event: ConnectionCheckedOutEvent): void {
    onCheckOutEnded(event)
    checkouts++
    const pool = poolOf(event.address)
    pool.open.add(event.connectionId)
    pool.checkedOut.add(event.connectionId)
    if (typeof event.durationMS === 'number') checkoutWait.record(event.durationMS)
  }
  function onConnectionCheckOutFailed (event: ConnectionCheckOutFailedEvent): void {
    onCheckOutEnded(event)
    checkoutFailures++
  }
  function onConnectionCheckedIn (event: ConnectionCheckedInEvent): void {
    const pool = poolOf(event.address)
    pool.checkedOut.delete(event.connectionId)
    pool.open.add(event.connectionId)
  }
  function onConnectionPoolCleared (): void {
    cleared++
  }
  function onConnectionPoolClosed (event: ConnectionPoolClosedEvent): void {
    pools.delete(event.address)
  }

  function onTopologyOpening (): void {
    clientClosed = false
  }
  function onTopologyClosed (): void {
    clientClosed = true
    pools.clear()
  }
  function onTopologyDescriptionChanged (event: TopologyDescriptionChangedEvent): void {
    lastTopologyChangeAt = Date.now()
    describeTopology(event.newDescription)
  }
  function describeTopology (description: TopologyDescription): void {
    topologyType = description.type
    for (const address of servers.keys()) {
      if (!description.servers.has(address)) servers.delete(address)
    }
    for (const [address, server] of description.servers) {
      let known = servers.get(address)
      if (known === undefined) {
        if (servers.size >= MAX_SERVERS) continue
        known = { address, type: server.type, error: undefined, heartbeatMs: null, lastHeartbeatAt: null }
        servers.set(address, known)
      }
      known.type = server.type
      known.error = server.error == null ? undefined : errorMessage(server.error, MAX_ERROR_LENGTH)
    }
  }
  /** Awaited heartbeats are long polls (streaming protocol) whose duration is not a round trip: skipped. */
  function onServerHeartbeatSucceeded (event: ServerHeartbeatSucceededEvent): void {
    if (event.awaited) return
    heartbeatMs = event.duration
    const server = servers.get(event.connectionId)
    if (server !== undefined) {
      server.heartbeatMs = event.duration
      server.lastHeartbeatAt = Date.now()
    }
  }
  function onServerHeartbeatFailed (_event: ServerHeartbeatFailedEvent): void {
    heartbeatFailures++
  }

  const listeners: Array<[string, (event: never) => void]> = [
    ['commandStarted', onCommandStarted],
    ['commandSucceeded', onCommandSucceeded],
    ['commandFailed', onCommandFailed],
    ['connectionCreated', onConnectionCreated],
    ['connectionClosed', onConnectionClosed],
    ['connectionCheckOutStarted', onConnectionCheckOutStarted],
    ['connectionCheckedOut', onConnectionCheckedOut],
    ['connectionCheckOutFailed', onConnectionCheckOutFailed],
    ['connectionCheckedIn', onConnectionCheckedIn],
    ['connectionPoolCleared', onConnectionPoolCleared],
    ['connectionPoolClosed', onConnectionPoolClosed],
    ['topologyOpening', onTopologyOpening],
    ['topologyClosed', onTopologyClosed],
    ['topologyDescriptionChanged', onTopologyDescriptionChanged],
    ['serverHeartbeatSucceeded', onServerHeartbeatSucceeded],
    ['serverHeartbeatFailed', onServerHeartbeatFailed]
  ]
  const emitter = client as unknown as NodeJS.EventEmitter
  for (const [name, listener] of listeners) emitter.on(name, listener as (event: unknown) => void)

  // A client connected before it was watched already has a topology: start from its description. `topology` is
  // not in the driver's public types, but has been on MongoClient since driver 3; read defensively.
  const existing = (client as unknown as { topology?: { description?: TopologyDescription } }).topology?.description
  if (existing?.servers instanceof Map) describeTopology(existing)

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
      pingError = errorMessage(error, MAX_ERROR_LENGTH)
      if (healthy !== false) log.warn({ err: error }, 'MongoDB ping failed: the database is reported unhealthy')
      healthy = false
    }
    lastCheckedAt = Date.now()
  }

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
      serverStatusError = errorMessage(error, MAX_ERROR_LENGTH)
      const code = (error as { code?: unknown }).code
      if (typeof code === 'number' && NOT_AUTHORIZED_CODES.has(code) && !serverStatusDeniedLogged) {
        serverStatusDeniedLogged = true
        log.info('MongoDB serverStatus is not authorised for this user: its figures stay null (the clusterMonitor role allows it)')
      }
    }
  }

  function build (): DatabaseSnapshot {
    return {
      status: healthy === true ? 'healthy' : 'unhealthy',
      required,
      ...(pingError === undefined ? {} : { error: pingError }),
      pingMs,
      lastCheckedAt: lastCheckedAt === null ? null : new Date(lastCheckedAt).toISOString(),
      pool: buildPool(),
      commands: buildCommands(),
      topology: buildTopology(),
      serverStatus: buildServerStatus()
    }
  }

  function buildPool (): PoolSnapshot {
    let open = 0
    let inUse = 0
    let waiting = 0
    for (const pool of pools.values()) {
      open += pool.open.size
      inUse += pool.checkedOut.size
      waiting += pool.waitingSince.length
    }
    const { mean: _mean, ...checkoutWaitMs } = checkoutWait.summary()
    return {
      open,
      inUse,
      available: Math.max(0, open - inUse),
      waiting,
      created,
      closed: closedConnections,
      checkouts,
      checkoutFailures,
      cleared,
      checkoutWaitMs
    }
  }

  function buildCommands (): CommandsSnapshot {
    const recent = recentCommands.advance()
    const recentP95 = recent.quantiles([0.95])[0]!
    if (!client.options.monitorCommands) {
      return {
        monitored: false,
        total: null,
        failures: null,
        averageMs: null,
        latencyMs: { p50: null, p95: null, p99: null, max: null },
        recentP95Ms: null,
        byName: {}
      }
    }
    const byName: Record<string, CommandStats> = {}
    for (const [name, counter] of commands) byName[name] = commandStats(counter)
    const { count, failures, averageMs, p50, p95, p99, max } = commandStats(allCommands)
    return {
      monitored: true,
      total: count,
      failures,
      averageMs,
      latencyMs: { p50, p95, p99, max },
      recentP95Ms: recentP95 === null ? null : round(recentP95),
      byName
    }
  }

  function buildTopology (): TopologySnapshot {
    const list: ServerSnapshot[] = []
    for (const server of servers.values()) {
      list.push({
        address: server.address,
        type: server.type,
        state: server.type !== 'Unknown' ? 'connected' : server.error === undefined ? 'connecting' : 'unreachable',
        heartbeatMs: server.heartbeatMs === null ? null : round(server.heartbeatMs),
        lastHeartbeatAt: server.lastHeartbeatAt === null ? null : new Date(server.lastHeartbeatAt).toISOString(),
        ...(server.error === undefined ? {} : { error: server.error })
      })
    }
    return {
      type: topologyType,
      closed: clientClosed,
      servers: list,
      heartbeatMs: heartbeatMs === null ? null : round(heartbeatMs),
      heartbeatFailures,
      lastChangeAt: lastTopologyChangeAt === null ? null : new Date(lastTopologyChangeAt).toISOString()
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
    async sample () {
      if (closed) return
      const now = Date.now()
      const work = [checkPing()]
      // Only while the last ping answered: a database that is down would cost a second timeout for nothing.
      if (healthy === true && now >= nextServerStatusAt && !serverStatusCommand.busy) {
        nextServerStatusAt = now + serverStatusIntervalMs
        work.push(readServerStatus())
      }
      await Promise.all(work)
      if (!closed) snapshot = build()
    },
    read () {
      return snapshot
    },
    close () {
      if (closed) return
      closed = true
      for (const [name, listener] of listeners) emitter.off(name, listener as (event: unknown) => void)
      const reason = new Error('server watch closed')
      ping.stop(reason)
      serverStatusCommand.stop(reason)
    }
  }
}

function commandStats (counter: CommandCounter): CommandStats {
  const { mean, ...percentiles } = counter.histogram.summary()
  const totalMs = round(counter.histogram.sum)
  return { count: counter.count, failures: counter.failures, averageMs: mean, totalMs, ...percentiles }
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
