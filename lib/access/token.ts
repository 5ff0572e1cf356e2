import { createHash, timingSafeEqual } from 'node:crypto'

/** What the caller presented in `Authorization`: a Bearer token or a Basic password (any user name). */
export function presentedSecret (authorization: string | undefined): string | null {
  if (authorization === undefined) return null
  const space = authorization.indexOf(' ')
  if (space < 0) return null
  const scheme = authorization.slice(0, space).toLowerCase()
  const value = authorization.slice(space + 1).trim()
  if (scheme === 'bearer') return value
  if (scheme !== 'basic') return null
  const decoded = Buffer.from(value, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  return colon < 0 ? null : decoded.slice(colon + 1)
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

/**
 * Compares in constant time against every accepted token (rotation: old and new side by side). Both sides are
 * hashed first, so neither the length nor the position of the first differing byte leaks through timing.
 */
export function createTokenMatcher (tokens: readonly string[]): (presented: string) => boolean {
  const expected = tokens.map(digest)
  return (presented) => {
    const given = digest(presented)
    let match = false
    for (const token of expected) match = timingSafeEqual(given, token) || match
    return match
  }
}
