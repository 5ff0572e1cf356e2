/** The deployment, from the driver's SDAM events: topology type, servers and heartbeats. */
import type { MongoHeartbeatFailedEvent, MongoHeartbeatSucceededEvent, MongoTopologyChangedEvent, MongoTopologyDescription } from './client-types.js'
import { errorText } from '../../error-text.js'
import { round } from '../../format.js'
import type { ServerSnapshot, TopologySnapshot } from '../../schemas/database.js'
import { MAX_ERROR_LENGTH, MAX_SERVERS } from './limits.js'

interface Server {
  address: string
  type: string
  error: string | undefined
  heartbeatMs: number | null
  lastHeartbeatAt: number | null
}

export interface TopologyWatch {
  readonly listeners: Array<[string, (event: never) => void]>
  /** Takes a description the events did not bring: that of a client connected before it was watched. */
  describe (description: MongoTopologyDescription): void
  build (): TopologySnapshot
  /** Why the driver cannot reach the deployment: the last heartbeat failure, until a heartbeat succeeds. */
  failureCause (): string | undefined
}

/** `onClientClosed` runs when the client closes, after the topology is marked closed. */
export function createTopologyWatch (onClientClosed: () => void): TopologyWatch {
  let topologyType = 'Unknown'
  let clientClosed = false
  const servers = new Map<string, Server>()
  let heartbeatMs: number | null = null
  let heartbeatFailures = 0
  let lastHeartbeatFailure: string | undefined
  let lastTopologyChangeAt: number | null = null

  function onTopologyOpening (): void {
    clientClosed = false
  }
  function onTopologyClosed (): void {
    clientClosed = true
    onClientClosed()
  }
  function onTopologyDescriptionChanged (event: MongoTopologyChangedEvent): void {
    lastTopologyChangeAt = Date.now()
    describeTopology(event.newDescription)
  }
  function describeTopology (description: MongoTopologyDescription): void {
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
      known.error = server.error == null ? undefined : errorText(server.error, MAX_ERROR_LENGTH)
    }
  }
  /** Awaited heartbeats are long polls (streaming protocol) whose duration is not a round trip: skipped. */
  function onServerHeartbeatSucceeded (event: MongoHeartbeatSucceededEvent): void {
    lastHeartbeatFailure = undefined
    if (event.awaited) return
    heartbeatMs = event.duration
    const server = servers.get(event.connectionId)
    if (server !== undefined) {
      server.heartbeatMs = event.duration
      server.lastHeartbeatAt = Date.now()
    }
  }
  function onServerHeartbeatFailed (event: MongoHeartbeatFailedEvent): void {
    heartbeatFailures++
    lastHeartbeatFailure = errorText(event.failure, MAX_ERROR_LENGTH)
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

  return {
    listeners: [
      ['topologyOpening', onTopologyOpening],
      ['topologyClosed', onTopologyClosed],
      ['topologyDescriptionChanged', onTopologyDescriptionChanged],
      ['serverHeartbeatSucceeded', onServerHeartbeatSucceeded],
      ['serverHeartbeatFailed', onServerHeartbeatFailed]
    ],
    describe: describeTopology,
    build: buildTopology,
    failureCause (): string | undefined {
      if (lastHeartbeatFailure !== undefined) return lastHeartbeatFailure
      for (const server of servers.values()) if (server.error !== undefined) return server.error
      return undefined
    }
  }
}
