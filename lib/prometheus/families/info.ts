import { readFileSync } from 'node:fs'
import { labelled, type Family } from '../family.js'
import type { MetricsRead } from '../read.js'
import { seconds } from '../buckets.js'
import { HEALTH_STATUSES } from '../../status.js'

const PACKAGE_VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version
const [NODE_MAJOR = '', NODE_MINOR = '', NODE_PATCH = ''] = process.versions.node.split('.')
const CHECK_STATES = ['pass', 'fail', 'pending'] as const

/** Versions, the health status, checks and alerts: the same in both modes (in shared mode, the fleet's status). */
export const INFO_FAMILIES: ReadonlyArray<Family<MetricsRead>> = [
  labelled('server_watch_info', 'gauge', 'any', 'fastify-server-watch and Fastify versions, always 1', ['version', 'fastify_version'],
    (read) => [[[PACKAGE_VERSION, read.snapshot.instance.fastifyVersion], 1]]),
  labelled('nodejs_version_info', 'gauge', 'any', 'Node.js version, always 1', ['version', 'major', 'minor', 'patch'],
    () => [[[process.version, NODE_MAJOR, NODE_MINOR, NODE_PATCH], 1]]),
  labelled('server_watch_health_status', 'gauge', 'any', 'Overall health: 1 for the current status, 0 for the others', ['status'],
    (read) => HEALTH_STATUSES.map((state) => [[state], read.snapshot.status === state ? 1 : 0])),
  labelled('server_watch_check_status', 'gauge', 'any', 'Custom check result: 1 for the current status, 0 for the others', ['check', 'status'],
    (read) => Object.entries(read.snapshot.checks).flatMap(([name, result]) =>
      CHECK_STATES.map((state) => [[name, state], result.status === state ? 1 : 0] as const))),
  labelled('server_watch_check_duration_seconds', 'gauge', 'any', 'Duration of the last run of each custom check', ['check'],
    (read) => Object.entries(read.snapshot.checks).map(([name, result]) => [[name], seconds(result.durationMs)])),
  // One series per rule, like Prometheus's own ALERTS: 1 while it fires, 0 otherwise (so it can be graphed).
  labelled('server_watch_alert_firing', 'gauge', 'any', 'Alert rules: 1 while the rule fires, 0 otherwise', ['alertname', 'severity'], (read) => {
    if (read.alerts === null) return []
    const firing = new Set(read.alerts.active.map((alert) => alert.name))
    return read.alerts.rules.map((rule) => [[rule.name, rule.severity], firing.has(rule.name) ? 1 : 0])
  })
]
