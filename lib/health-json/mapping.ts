/** The snapshot as the health+json document of the IETF draft (its schema: lib/schemas/health-json.ts). */
import type { HealthJson, HealthJsonCheck } from '../schemas/health-json.js'
import type { HealthSnapshot } from '../schemas/health.js'

type Status = HealthJson['status']

/** healthy → pass (200), degraded → warn (200), unhealthy → fail (503). */
export const HEALTH_JSON_STATUS: Record<HealthSnapshot['status'], Status> = {
  healthy: 'pass',
  degraded: 'warn',
  unhealthy: 'fail'
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
