import { OptionGroup, type KnownKeys } from '../options/validate.js'

export const DEFAULT_N_PLUS_ONE_CALLS = 5

/** `breakdown: true` turns both parts on; an object picks them (each defaults to true) and the N+1 threshold. */
export interface BreakdownOptions {
  /** Charge the watched MongoClient's commands to the routes that run them. Default true. */
  database?: boolean
  /** Charge outbound HTTP calls (fetch, undici, `http.request`) to the routes that make them. Default true. */
  outbound?: boolean
  /** A request in which one query shape runs this many times or more is an N+1. Default 5. */
  nPlusOneCalls?: number
}

export interface NormalizedBreakdown {
  database: boolean
  outbound: boolean
  nPlusOneCalls: number
}

const BREAKDOWN_KEYS = { database: true, outbound: true, nPlusOneCalls: true } satisfies KnownKeys<BreakdownOptions>

/** null when off (the default): nothing is added then. */
export function normalizeBreakdown (value: unknown): NormalizedBreakdown | null {
  if (value === undefined || value === false) return null
  if (value === true) return { database: true, outbound: true, nPlusOneCalls: DEFAULT_N_PLUS_ONE_CALLS }
  const group = OptionGroup.of(value, 'breakdown', BREAKDOWN_KEYS, 'a boolean or { database?, outbound?, nPlusOneCalls? }')
  const normalized = {
    database: group.boolean('database', true),
    outbound: group.boolean('outbound', true),
    nPlusOneCalls: group.integer('nPlusOneCalls', DEFAULT_N_PLUS_ONE_CALLS, 2, 10_000)
  }
  return normalized.database || normalized.outbound ? normalized : null
}
