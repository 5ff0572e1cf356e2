/**
 * `db.client.operation.duration` for the app's MongoClient: each command the application runs, in seconds, from the
 * driver's command monitoring (needs `monitorCommands: true`), recorded only when OpenTelemetry is configured. The
 * plugin's own ping and serverStatus are left out, as in the snapshot's command stats.
 */
import type { MongoCommandEndedEvent, MongoCommandStartedEvent } from '../collectors/mongo/client-types.js'
import { HTTP_DURATION_BOUNDS } from '../prometheus/buckets.js'
import { OwnCommandIds } from '../collectors/mongo/commands.js'
import { MAX_COMMAND_NAMES, OTHER_COMMANDS } from '../collectors/mongo/limits.js'
import type { OtelAttributes, OtelMeter } from './types.js'

/** The part of a MongoClient this needs: its command events. */
export interface CommandEvents {
  on (event: string, listener: (event: never) => void): unknown
  off (event: string, listener: (event: never) => void): unknown
}

/** Starts recording; returns the function that stops. */
export function exportMongoOperations (meter: OtelMeter, client: CommandEvents): () => void {
  const duration = meter.createHistogram('db.client.operation.duration', {
    description: 'Duration of MongoDB commands run by the application',
    unit: 's',
    advice: { explicitBucketBoundaries: [...HTTP_DURATION_BOUNDS] }
  })
  const own = new OwnCommandIds()
  // One attribute object per command name and outcome, at most MAX_COMMAND_NAMES names: nothing built per command.
  const byName = new Map<string, [ok: OtelAttributes, failed: OtelAttributes]>()
  function attributesOf (name: string, database: string, failed: boolean): OtelAttributes {
    let pair = byName.get(name)
    if (pair === undefined) {
      const operation = byName.size < MAX_COMMAND_NAMES ? name : OTHER_COMMANDS
      const ok = { 'db.system.name': 'mongodb', 'db.operation.name': operation, 'db.namespace': database }
      pair = [ok, { ...ok, 'error.type': 'command_failed' }]
      if (operation === name) byName.set(name, pair)
    }
    return pair[failed ? 1 : 0]
  }
  const started = (event: MongoCommandStartedEvent) => { own.started(event) }
  const succeeded = (event: MongoCommandEndedEvent) => {
    if (!own.ends(event)) duration.record(event.duration / 1000, attributesOf(event.commandName, event.databaseName, false))
  }
  const failed = (event: MongoCommandEndedEvent) => {
    if (!own.ends(event)) duration.record(event.duration / 1000, attributesOf(event.commandName, event.databaseName, true))
  }
  const listeners: Array<[string, (event: never) => void]> = [
    ['commandStarted', started as (event: never) => void],
    ['commandSucceeded', succeeded as (event: never) => void],
    ['commandFailed', failed as (event: never) => void]
  ]
  for (const [name, listener] of listeners) client.on(name, listener)
  return () => {
    for (const [name, listener] of listeners) client.off(name, listener)
  }
}
