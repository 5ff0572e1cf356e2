// The structural MongoDB types of lib/collectors/mongo/client-types.ts against the real driver: a MongoClient is
// accepted by the `mongo` option, and every driver event carries what its shape promises. `npm run typecheck`
// compiles this file, so a driver release that drifts from these shapes fails `npm test`.
import Fastify from 'fastify'
import type {
  CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent, ConnectionCheckedInEvent, ConnectionCheckedOutEvent,
  ConnectionCheckOutFailedEvent, ConnectionCheckOutStartedEvent, ConnectionClosedEvent, ConnectionCreatedEvent,
  ConnectionPoolClosedEvent, MongoClient, ServerHeartbeatFailedEvent, ServerHeartbeatSucceededEvent,
  TopologyDescription, TopologyDescriptionChangedEvent
} from 'mongodb'
import serverWatch, { type DatabaseSnapshot, type MongoClientLike } from '../../lib/plugin.js'
import type {
  MongoCheckedOutEvent, MongoCheckOutEndedEvent, MongoCheckOutStartedEvent, MongoCommandEndedEvent,
  MongoCommandStartedEvent, MongoConnectionEvent, MongoHeartbeatFailedEvent, MongoHeartbeatSucceededEvent,
  MongoPoolEvent, MongoTopologyChangedEvent, MongoTopologyDescription
} from '../../lib/collectors/mongo/client-types.js'

type Extends<A, B> = [A] extends [B] ? true : false
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
const assert = <T extends true>(_proof?: T): void => {}

export async function mongoClientTypeTests (client: MongoClient): Promise<object> {
  assert<Extends<MongoClient, MongoClientLike>>()
  const app = Fastify()
  await app.register(serverWatch, { mongo: client })
  await app.register(serverWatch, { mongo: { client, required: false, serverStatusIntervalMs: 30_000 } })
  // @ts-expect-error a MongoClient, not a connection string
  await app.register(serverWatch, { mongo: 'mongodb://localhost' })

  assert<Extends<CommandStartedEvent, MongoCommandStartedEvent>>()
  assert<Extends<CommandSucceededEvent, MongoCommandEndedEvent>>()
  assert<Extends<CommandFailedEvent, MongoCommandEndedEvent>>()
  assert<Extends<ConnectionCreatedEvent, MongoConnectionEvent>>()
  assert<Extends<ConnectionClosedEvent, MongoConnectionEvent>>()
  assert<Extends<ConnectionCheckedInEvent, MongoConnectionEvent>>()
  assert<Extends<ConnectionCheckOutStartedEvent, MongoCheckOutStartedEvent>>()
  assert<Extends<ConnectionCheckedOutEvent, MongoCheckedOutEvent>>()
  assert<Extends<ConnectionCheckOutFailedEvent, MongoCheckOutEndedEvent>>()
  assert<Extends<ConnectionPoolClosedEvent, MongoPoolEvent>>()
  assert<Extends<TopologyDescription, MongoTopologyDescription>>()
  assert<Extends<TopologyDescriptionChangedEvent, MongoTopologyChangedEvent>>()
  assert<Extends<ServerHeartbeatSucceededEvent, MongoHeartbeatSucceededEvent>>()
  assert<Extends<ServerHeartbeatFailedEvent, MongoHeartbeatFailedEvent>>()

  // `database` is a union on `status`: narrowing gives the fields without `?.`.
  const database: DatabaseSnapshot = app.serverWatch.snapshot().database
  if (database.status === 'not_configured') {
    assert<Equal<keyof typeof database, 'status'>>()
    return {}
  }
  const inUse: number = database.pool.inUse
  const monitored: boolean = database.commands.monitored
  const required: boolean = database.required
  // @ts-expect-error only an unhealthy database has an error
  const missing: string = database.error
  if (database.status === 'unhealthy') {
    const why: string = database.error
    return { inUse, monitored, required, missing, why }
  }
  assert<Equal<typeof database.status, 'healthy'>>()
  return { inUse, monitored, required, missing }
}
