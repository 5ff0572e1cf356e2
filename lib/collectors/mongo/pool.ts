/** The connection pools, from the driver's CMAP events: connections, check-outs and the wait for one. */
import type { MongoCheckOutEndedEvent, MongoCheckOutStartedEvent, MongoCheckedOutEvent, MongoConnectionEvent, MongoPoolEvent } from './client-types.js'
import { Histogram } from '../../histogram.js'
import type { PoolSnapshot } from '../../schemas/database.js'
import { MAX_TRACKED_WAITERS } from './limits.js'

/** Event times are whole milliseconds and durations are floored: a start matches within this. */
const CLOCK_SLACK_MS = 2

interface Pool {
  /** Connection ids seen open: a client connected before it was watched shows its older connections once used. */
  readonly open: Set<number | string>
  readonly checkedOut: Set<number | string>
  /** Start times (epoch ms) of the check-outs still waiting, oldest first. */
  readonly waitingSince: number[]
}

export interface PoolWatch {
  readonly listeners: Array<[string, (event: never) => void]>
  /** Forgets every pool: the client was closed. */
  clear (): void
  build (): PoolSnapshot
}

export function createPoolWatch (): PoolWatch {
  const pools = new Map<string, Pool>()
  let created = 0
  let closedConnections = 0
  let checkouts = 0
  let checkoutFailures = 0
  let cleared = 0
  const checkoutWait = new Histogram()

  function poolOf (address: string): Pool {
    let pool = pools.get(address)
    if (pool === undefined) {
      pool = { open: new Set(), checkedOut: new Set(), waitingSince: [] }
      pools.set(address, pool)
    }
    return pool
  }
  function onConnectionCreated (event: MongoConnectionEvent): void {
    created++
    poolOf(event.address).open.add(event.connectionId)
  }
  function onConnectionClosed (event: MongoConnectionEvent): void {
    closedConnections++
    const pool = pools.get(event.address)
    pool?.open.delete(event.connectionId)
    pool?.checkedOut.delete(event.connectionId)
  }
  function onConnectionCheckOutStarted (event: MongoCheckOutStartedEvent): void {
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
  function onCheckOutEnded (event: MongoCheckedOutEvent | MongoCheckOutEndedEvent): void {
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
  function onConnectionCheckedOut (event: MongoCheckedOutEvent): void {
    onCheckOutEnded(event)
    checkouts++
    const pool = poolOf(event.address)
    pool.open.add(event.connectionId)
    pool.checkedOut.add(event.connectionId)
    if (typeof event.durationMS === 'number') checkoutWait.record(event.durationMS)
  }
  function onConnectionCheckOutFailed (event: MongoCheckOutEndedEvent): void {
    onCheckOutEnded(event)
    checkoutFailures++
  }
  function onConnectionCheckedIn (event: MongoConnectionEvent): void {
    const pool = poolOf(event.address)
    pool.checkedOut.delete(event.connectionId)
    pool.open.add(event.connectionId)
  }
  function onConnectionPoolCleared (): void {
    cleared++
  }
  function onConnectionPoolClosed (event: MongoPoolEvent): void {
    pools.delete(event.address)
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

  return {
    listeners: [
      ['connectionCreated', onConnectionCreated],
      ['connectionClosed', onConnectionClosed],
      ['connectionCheckOutStarted', onConnectionCheckOutStarted],
      ['connectionCheckedOut', onConnectionCheckedOut],
      ['connectionCheckOutFailed', onConnectionCheckOutFailed],
      ['connectionCheckedIn', onConnectionCheckedIn],
      ['connectionPoolCleared', onConnectionPoolCleared],
      ['connectionPoolClosed', onConnectionPoolClosed]
    ],
    clear () {
      pools.clear()
    },
    build: buildPool
  }
}
