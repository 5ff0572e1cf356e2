import type { HealthSnapshot } from '../schemas/health.js'
import type { Breakdown } from './index.js'

/**
 * The breakdown's figures added to a snapshot that the read model built: per endpoint, to the watched database, and
 * `outbound`. Endpoints the snapshot has are the ones decorated (a route whose requests were all aborted has none).
 */
export function addBreakdown (snapshot: HealthSnapshot, breakdown: Breakdown): HealthSnapshot {
  for (const [key, endpoint] of Object.entries(snapshot.application.endpoints)) {
    const figures = breakdown.endpoint(key)
    if (figures !== null) Object.assign(endpoint, figures)
  }
  const database = breakdown.database()
  if (database !== null && snapshot.database.status !== 'not_configured') Object.assign(snapshot.database, database)
  const outbound = breakdown.outbound()
  if (outbound !== null) snapshot.outbound = outbound
  return snapshot
}
