/**
 * The one health status of the plugin: its values, their order and how two combine. The snapshot's schema, the
 * fleet's files, the alerts and /metrics all read it from here.
 */
export const HEALTH_STATUSES = ['healthy', 'degraded', 'unhealthy'] as const

export type HealthStatus = typeof HEALTH_STATUSES[number]

/** Worse is higher: the index in HEALTH_STATUSES. */
export const statusRank = (status: HealthStatus): number => HEALTH_STATUSES.indexOf(status)

/** The worse of two statuses. */
export const worstStatus = (a: HealthStatus, b: HealthStatus): HealthStatus => statusRank(a) >= statusRank(b) ? a : b

export const isHealthStatus = (value: unknown): value is HealthStatus =>
  typeof value === 'string' && (HEALTH_STATUSES as readonly string[]).includes(value)

/** The parts of a snapshot the status is derived from. */
export interface StatusInputs {
  checks: Readonly<Record<string, { status: 'pass' | 'fail' | 'pending', required: boolean }>>
  database: { status: 'healthy' | 'unhealthy' | 'not_configured', required?: boolean }
  /** The worst firing alert's severity; healthy when none fires (or alerts are off). */
  alerts?: HealthStatus
}

/**
 * unhealthy when a required check or a required database fails, or an alert of that severity fires; degraded when
 * only optional ones fail or a degraded alert fires. A check with no result yet (`pending`) counts as failing:
 * nothing is reported healthy before it has been seen to pass.
 */
export function healthStatus ({ checks, database, alerts = 'healthy' }: StatusInputs): HealthStatus {
  let status = alerts
  if (database.status === 'unhealthy') status = worstStatus(status, database.required === false ? 'degraded' : 'unhealthy')
  for (const name in checks) {
    const check = checks[name]!
    if (check.status !== 'pass') status = worstStatus(status, check.required ? 'unhealthy' : 'degraded')
  }
  return status
}
