/**
 * The IETF draft "Health Check Response Format for HTTP APIs" (draft-inadarei-api-health-check-06), media type
 * `application/health+json`: what `GET /health` answers to a client that asks for it in `Accept`.
 * Units are UCUM codes (`ms`, `s`, `%`), which the draft allows as "a standards document" term.
 */
import { Type, type Static } from '@sinclair/typebox'
import type { HealthSnapshot } from './schemas/health.js'

export const HEALTH_JSON = 'application/health+json'

export const HealthJsonStatus = Type.Union([Type.Literal('pass'), Type.Literal('warn'), Type.Literal('fail')])

export const HealthJsonCheckSchema = Type.Object({
  componentId: Type.Optional(Type.String()),
  componentType: Type.Optional(Type.String()),
  observedValue: Type.Optional(Type.Number()),
  observedUnit: Type.Optional(Type.String()),
  status: HealthJsonStatus,
  time: Type.Optional(Type.String({ format: 'date-time' })),
  output: Type.Optional(Type.String())
})

export const HealthJsonSchema = Type.Object({
  status: HealthJsonStatus,
  serviceId: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  output: Type.Optional(Type.String()),
  checks: Type.Optional(Type.Record(Type.String(), Type.Array(HealthJsonCheckSchema), {
    description: 'keyed "component:measurement" (or "uptime"); one element per component instance'
  }))
}, { $id: 'ServerWatchHealthJson' })

export type HealthJson = Static<typeof HealthJsonSchema>
export type HealthJsonCheck = Static<typeof HealthJsonCheckSchema>
type Status = HealthJson['status']

/** healthy → pass (200), degraded → warn (200), unhealthy → fail (503). */
export const HEALTH_JSON_STATUS: Record<HealthSnapshot['status'], Status> = {
  healthy: 'pass',
  degraded: 'warn',
  unhealthy: 'fail'
}

/**
 * Whether the `Accept` header prefers health+json to plain JSON: only when it names `application/health+json`
 * with a quality above zero and at least that of `application/json` (or of the wildcard that would match it).
 * Anything else, including no header and `*\/*`, gets the plain JSON snapshot, so existing clients see no change.
 */
export function prefersHealthJson (accept: string | undefined): boolean {
  if (accept === undefined || !accept.toLowerCase().includes(HEALTH_JSON)) return false
  let health = { specificity: -1, q: 0 }
  let json = { specificity: -1, q: 0 }
  for (const part of accept.toLowerCase().split(',')) {
    const [range = '', ...params] = part.split(';').map((piece) => piece.trim())
    let q = 1
    for (const param of params) {
      if (param.startsWith('q=')) q = Number(param.slice(2))
    }
    if (!(q >= 0 && q <= 1)) q = 0
    const specificity = range === '*/*' ? 0 : range === 'application/*' ? 1 : 2
    if ((range === HEALTH_JSON || specificity < 2) && specificity > health.specificity) health = { specificity, q }
    if ((range === 'application/json' || specificity < 2) && specificity > json.specificity) json = { specificity, q }
  }
  return health.specificity === 2 && health.q > 0 && health.q >= json.q
}

const componentName = (name: string) => name.replaceAll(':', '_')

const checkStatus = (failing: boolean): Status => failing ? 'fail' : 'pass'

/**
 * The draft's document for an authorised caller. `sampledAt` (epoch ms) is when the system figures were read;
 * null before the first sample. A failing optional dependency is a `fail` check under an overall `warn`.
 */
export function toHealthJson (snapshot: HealthSnapshot, sampledAt: number | null): HealthJson {
  const status = HEALTH_JSON_STATUS[snapshot.status]
  const { hostname, pid } = snapshot.instance
  const sampleTime = sampledAt === null ? undefined : new Date(sampledAt).toISOString()
  const checks: Record<string, HealthJsonCheck[]> = {}
  const failures: string[] = []
  const measured = (componentId: string, value: number | null, unit: string): HealthJsonCheck => ({
    componentId,
    componentType: 'system',
    ...(value === null ? {} : { observedValue: value, observedUnit: unit }),
    status: 'pass',
    ...(sampleTime === undefined ? {} : { time: sampleTime })
  })

  checks.uptime = [{ componentType: 'system', observedValue: snapshot.uptime.seconds, observedUnit: 's', status: 'pass', time: snapshot.timestamp }]
  checks['cpu:utilization'] = [
    measured('system', snapshot.cpu.systemPercent, '%'),
    measured('process', snapshot.cpu.processPercent, '%')
  ]
  checks['memory:utilization'] = [
    measured('system', snapshot.memory.system.percent, '%'),
    measured('process', snapshot.memory.process.memoryPercent, '%')
  ]
  const utilization = snapshot.eventLoop.utilization
  checks['eventLoop:utilization'] = [measured('process', utilization === null ? null : Math.round(utilization * 10_000) / 100, '%')]
  checks['eventLoop:delay'] = [measured('process', snapshot.eventLoop.delayMs.p99, 'ms')]

  const db = snapshot.database
  if (db.status !== 'not_configured') {
    const failing = db.status === 'unhealthy'
    if (failing) failures.push(`mongodb: ${db.error ?? 'unhealthy'}`)
    checks['mongodb:responseTime'] = [{
      componentId: 'mongodb',
      componentType: 'datastore',
      ...(typeof db.pingMs === 'number' ? { observedValue: db.pingMs, observedUnit: 'ms' } : {}),
      status: checkStatus(failing),
      ...(typeof db.lastCheckedAt === 'string' ? { time: db.lastCheckedAt } : {}),
      ...(failing && db.error !== undefined ? { output: db.error } : {})
    }]
  }

  for (const [name, result] of Object.entries(snapshot.checks)) {
    // A check with no result yet is not passing: fail when required, warn when optional, as the overall status.
    const pending = result.status === 'pending'
    const failing = result.status === 'fail' || (pending && result.required)
    const output = pending ? 'not checked yet' : failing ? result.error : undefined
    if (failing) failures.push(`${name}: ${output ?? 'failed'}`)
    checks[`${componentName(name)}:responseTime`] = [{
      componentId: name,
      componentType: 'component',
      ...(result.durationMs === null ? {} : { observedValue: result.durationMs, observedUnit: 'ms' }),
      status: failing ? 'fail' : pending ? 'warn' : 'pass',
      ...(result.lastCheckedAt === null ? {} : { time: result.lastCheckedAt }),
      ...(output === undefined ? {} : { output })
    }]
  }

  // A firing rule is a check of its own: warn for degraded, fail for unhealthy, with the value that fired it.
  for (const alert of snapshot.alerts) {
    failures.push(`alert ${alert.name}: ${alert.metric} ${alert.direction} ${alert.threshold}`)
    checks[`alert:${componentName(alert.name)}`] = [{
      componentId: alert.metric,
      componentType: 'system',
      ...(alert.value === null ? {} : { observedValue: alert.value }),
      status: alert.severity === 'unhealthy' ? 'fail' : 'warn',
      time: alert.since,
      output: `${alert.metric} ${alert.direction} ${alert.threshold} since ${alert.since}`
    }]
  }

  return {
    status,
    serviceId: `${hostname}:${pid}`,
    description: `Fastify server watch of ${hostname} (pid ${pid})`,
    // The draft: output SHOULD be omitted for pass.
    ...(status === 'pass' || failures.length === 0 ? {} : { output: failures.join('; ') }),
    checks
  }
}
