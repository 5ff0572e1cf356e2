/** Content negotiation for `GET /health`: which clients get the health+json document (lib/health-json/mapping.ts). */
export const HEALTH_JSON = 'application/health+json'

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
