/**
 * A watched MongoClient's commands, charged to the request that ran them, from the driver's command monitoring
 * events (the client needs `monitorCommands: true`).
 *
 * Which request: the one whose async context `commandStarted` runs in. From driver 6.4 on, `Server.command` awaits
 * `pool.checkOut()` and then sends the command, emitting `commandStarted` synchronously: the event runs in the
 * continuation of the operation's own await, so a request that waited for a pooled connection keeps its context
 * (test/breakdown/database.test.ts proves it with maxPoolSize 1). Nothing needs binding. Drivers 6.0 to 6.3 served
 * the wait queue with callbacks run in whichever context released a connection (the swap reported in
 * opentelemetry-js-contrib #1688 and elastic/apm-agent-nodejs #3161): with those, database attribution is refused
 * at start-up (see `attributesCorrectly`) rather than charging a query to the wrong route.
 *
 * The end events run in the driver's context (the socket's), which may be any request's: they are matched to their
 * start by `requestId`, never read from the async context.
 */
import type { MongoClientLike, MongoCommandEndedEvent, MongoCommandStartedEvent } from '../collectors/mongo/client-types.js'
import { OWN_COMMAND_COMMENT } from '../collectors/mongo/commands.js'
import { currentRequest, type RequestContext, type RequestStorage } from './context.js'
import { OUTSIDE_REQUESTS, OutsideCalls } from './outside.js'
import { commandShape } from './shape.js'
import type { ShapeRegistry, SlowQueries } from './queries.js'

/** Commands started and not ended: past this, a start never followed by its end is forgotten. */
const MAX_PENDING = 10_000

interface PendingCommand {
  readonly context: RequestContext | null
  readonly startedAt: number
  readonly commandName: string
  readonly collection: string | null
  readonly shape: string
}

export interface DatabaseBreakdown {
  readonly outside: OutsideCalls
  /** Starts listening to the client's command events. */
  start (): void
  stop (): void
}

interface DriverMetadata { readonly driver?: { readonly version?: unknown }, readonly then?: unknown }

/**
 * Whether `commandStarted` runs in the operation's own async context: driver 6.4 and later (see above). Drivers 6
 * give their version in `options.metadata`; later ones build the metadata asynchronously (a promise there: 7.x),
 * and all of those await the checkout.
 */
export function attributesCorrectly (client: MongoClientLike): boolean {
  const metadata = (client.options as { readonly metadata?: DriverMetadata }).metadata
  if (metadata == null) return false
  if (typeof metadata.then === 'function') return true
  const match = typeof metadata.driver?.version === 'string' ? /^(\d+)\.(\d+)/.exec(metadata.driver.version) : null
  if (match === null) return false
  const major = Number(match[1])
  return major > 6 || (major === 6 && Number(match[2]) >= 4)
}

export function createDatabaseBreakdown (client: MongoClientLike, { storage, now, shapes, slowQueries }: {
  storage: RequestStorage
  now: () => number
  shapes: ShapeRegistry
  slowQueries: SlowQueries
}): DatabaseBreakdown {
  const outside = new OutsideCalls()
  const pending = new Map<number, PendingCommand>()

  function onStarted (event: MongoCommandStartedEvent): void {
    const command = event.command
    // The plugin's own ping and serverStatus are no application's.
    if (command.comment === OWN_COMMAND_COMMENT && (event.commandName === 'ping' || event.commandName === 'serverStatus')) return
    const context = currentRequest(storage)
    const { collection, shape } = commandShape(event.commandName, command)
    const startedAt = now()
    context?.databaseStarted(startedAt, shapes.idOf(shape))
    if (pending.size >= MAX_PENDING) pending.clear()
    pending.set(event.requestId, { context, startedAt, commandName: event.commandName, collection, shape })
  }

  function onEnded (event: MongoCommandEndedEvent): void {
    const command = pending.get(event.requestId)
    if (command === undefined) return
    pending.delete(event.requestId)
    // Timed on the same clock as the request (the driver's `duration` is whole milliseconds in driver 7).
    const endedAt = now()
    const durationMs = endedAt - command.startedAt
    const context = command.context
    if (context === null) outside.record(durationMs)
    else context.databaseEnded(endedAt)
    if (durationMs > slowQueries.threshold) {
      slowQueries.capture(command.commandName, command.collection, command.shape, durationMs, context === null ? OUTSIDE_REQUESTS : context.route.key)
    }
  }

  return {
    outside,
    start () {
      client.on('commandStarted', onStarted as (event: never) => void)
      client.on('commandSucceeded', onEnded as (event: never) => void)
      client.on('commandFailed', onEnded as (event: never) => void)
    },
    stop () {
      client.off('commandStarted', onStarted as (event: never) => void)
      client.off('commandSucceeded', onEnded as (event: never) => void)
      client.off('commandFailed', onEnded as (event: never) => void)
      pending.clear()
    }
  }
}
