import type { WatchedDatabaseSnapshot } from '../../schemas/database.js'
import { msToSeconds, seconds } from '../buckets.js'
import { labelled, single, type Family } from '../family.js'
import type { MetricsRead } from '../read.js'

type Db = WatchedDatabaseSnapshot
type CommandStats = NonNullable<Db['commands']>['byName'][string]
const db = (read: MetricsRead): Db | null => read.snapshot.database.status === 'not_configured' ? null : read.snapshot.database
const pool = (read: MetricsRead): NonNullable<Db['pool']> | undefined => db(read)?.pool
const status = (read: MetricsRead): NonNullable<Db['serverStatus']> | null => {
  const serverStatus = db(read)?.serverStatus
  return serverStatus?.available === true ? serverStatus : null
}
const commands = (read: MetricsRead) => {
  const monitored = db(read)?.commands
  return monitored?.monitored === true ? Object.entries(monitored.byName) as Array<[string, CommandStats]> : []
}
const QUANTILES = [['0.5', 'p50'], ['0.95', 'p95'], ['0.99', 'p99']] as const

/** The watched MongoClient (with the `mongo` option): written in both modes, from this process's client. */
export const MONGO_FAMILIES: ReadonlyArray<Family<MetricsRead>> = [
  single('mongodb_client_up', 'gauge', 'any', '1 when the last ping of the watched MongoClient answered, else 0',
    (read) => db(read) === null ? null : db(read)!.status === 'healthy' ? 1 : 0),
  single('mongodb_client_ping_seconds', 'gauge', 'any', 'Duration of the last ping', (read) => seconds(db(read)?.pingMs)),
  labelled('mongodb_client_pool_connections', 'gauge', 'any', 'Open pool connections, in use or available', ['state'], (read) => {
    const figures = pool(read)
    return figures === undefined ? [] : [[['in_use'], figures.inUse], [['available'], figures.available]]
  }),
  single('mongodb_client_pool_checkouts_waiting', 'gauge', 'any', 'Connection check-outs waiting for a connection', (read) => pool(read)?.waiting),
  single('mongodb_client_pool_connections_created_total', 'counter', 'any', 'Pool connections created', (read) => pool(read)?.created),
  single('mongodb_client_pool_connections_closed_total', 'counter', 'any', 'Pool connections closed', (read) => pool(read)?.closed),
  single('mongodb_client_pool_checkouts_total', 'counter', 'any', 'Connection check-outs', (read) => pool(read)?.checkouts),
  single('mongodb_client_pool_checkout_failures_total', 'counter', 'any', 'Connection check-outs that failed', (read) => pool(read)?.checkoutFailures),
  single('mongodb_client_pool_cleared_total', 'counter', 'any', 'Times a pool was cleared', (read) => pool(read)?.cleared),
  {
    name: 'mongodb_client_command_duration_seconds',
    type: 'summary',
    help: 'Command durations by command name since start (_count: commands, _sum: seconds)',
    labels: ['command'],
    scope: 'any',
    write (out, read) {
      for (const [command, stats] of commands(read)) {
        for (const [quantile, key] of QUANTILES) out.quantile([command], quantile, seconds(stats[key]))
        out.sample([command], msToSeconds(stats.totalMs), '_sum')
        out.sample([command], stats.count, '_count')
      }
    }
  },
  labelled('mongodb_client_command_failures_total', 'counter', 'any', 'Commands that failed, by command name', ['command'],
    (read) => commands(read).map(([command, stats]) => [[command], stats.failures] as const)),
  labelled('mongodb_server_connections', 'gauge', 'any', 'Connections of the MongoDB server (serverStatus, every client together)', ['state'],
    (read) => {
      const connections = status(read)?.connections
      return connections === undefined || connections === null ? [] : [[['current'], connections.current], [['available'], connections.available]]
    }),
  single('mongodb_server_connections_created_total', 'counter', 'any', 'Connections the MongoDB server has accepted (serverStatus)',
    (read) => status(read)?.connections?.totalCreated),
  labelled('mongodb_server_opcounters_total', 'counter', 'any', 'Operations the MongoDB server has run, by type (serverStatus, every client together)',
    ['op'], (read) => Object.entries(status(read)?.opcounters ?? {}).map(([op, count]) => [[op], count] as const)),
  single('mongodb_server_resident_memory_bytes', 'gauge', 'any', 'Resident memory of the MongoDB server (serverStatus)', (read) => status(read)?.residentMemory),
  single('mongodb_server_uptime_seconds', 'gauge', 'any', 'Uptime of the MongoDB server (serverStatus)', (read) => status(read)?.uptimeSeconds)
]
