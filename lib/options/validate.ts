/**
 * The one toolkit every option group is checked with (the top level, `mongo`, `checks.*`, `alerts`, `shared`,
 * `prometheus`, custom metrics' options): one idea of a plain object, one unknown-key rule with its "did you mean",
 * one message style, and errors that name the option's full path (`mongo.serverStatusIntervalMs`).
 */
import { FST_SERVER_WATCH_INVALID_OPTION } from '../errors.js'

/** An object literal (or `Object.create(null)`): not a Map, an array or a class instance, whose entries we would miss. */
export function isPlainObject (value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const prototype = Object.getPrototypeOf(value) as unknown
  return prototype === Object.prototype || prototype === null
}

function constructorName (value: object): string {
  try {
    const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor?.name
    return typeof name === 'string' && name !== '' ? name : 'object'
  } catch {
    return 'object'
  }
}

/** A short description of a rejected value for an error message. */
export function show (value: unknown): string {
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)
  if (value === null || typeof value !== 'object') return String(value)
  if (Array.isArray(value)) return `an array of ${value.length}`
  if (!isPlainObject(value)) return `a ${constructorName(value)}`
  try {
    return JSON.stringify(value).slice(0, 40)
  } catch {
    return 'an object'
  }
}

/** Only the kind of a value: for options that may hold a secret (a misspelt "token" must not print it). */
export function kindOf (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return `a ${typeof value}`
}

/** Levenshtein distance, case-insensitive: small names only (option keys), so the plain table is enough. */
function editDistance (a: string, b: string): number {
  a = a.toLowerCase()
  b = b.toLowerCase()
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    previous = current
  }
  return previous[b.length]!
}

/** The known name nearest to `name`, when it is near enough to be a typo (a third of its letters at most). */
export function closestName (name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1
  for (const candidate of known) {
    const distance = editDistance(name, candidate)
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/** The full name of `key` inside the group at `path` ('' at the top level). */
export const optionName = (path: string, key: string): string => path === '' ? key : `${path}.${key}`

/** Throws FST_SERVER_WATCH_INVALID_OPTION naming the option at `name`. */
export function fail (name: string, expected: string, got: string): never {
  throw new FST_SERVER_WATCH_INVALID_OPTION(name, expected, got)
}

/**
 * Keys of an options interface, derived from it: `{ a: true, b: true } satisfies Record<keyof Options, true>` fails
 * to compile when the interface gains or loses a key, so the list of known names cannot drift from the type.
 */
export type KnownKeys<T> = Record<keyof T, true>

/**
 * One group of options (an object the user passed), checked once: a plain object whose keys are all known. Its
 * readers return the value with its default, or throw an error that names the option's full path.
 */
export class OptionGroup {
  readonly values: Readonly<Record<string, unknown>>
  readonly path: string

  private constructor (values: Record<string, unknown>, path: string) {
    this.values = values
    this.path = path
  }

  /**
   * `value` as a group at `path`: a plain object (else `expected` in the error), every key one of `known`. A
   * misspelt key fails with the nearest known name, and with the kind of its value only (it may be a secret).
   */
  static of (value: unknown, path: string, known: Readonly<Record<string, true>> | Iterable<string>, expected: string): OptionGroup {
    if (!isPlainObject(value)) fail(path === '' ? 'options' : path, expected, show(value))
    const names = new Set(Symbol.iterator in known ? known as Iterable<string> : Object.keys(known))
    for (const key of Object.keys(value)) {
      if (names.has(key)) continue
      const suggestion = closestName(key, names)
      const hint = suggestion === undefined ? 'unknown option' : `unknown option; did you mean "${suggestion}"?`
      // A long list says where the list is instead of printing it.
      const list = names.size > 8 ? 'the documented options' : [...names].join(', ')
      fail(optionName(path, key), `one of ${list} (${hint})`, kindOf(value[key]))
    }
    return new OptionGroup(value, path)
  }

  name (key: string): string {
    return optionName(this.path, key)
  }

  has (key: string): boolean {
    return this.values[key] !== undefined
  }

  fail (key: string, expected: string, got = show(this.values[key])): never {
    return fail(this.name(key), expected, got)
  }

  integer (key: string, fallback: number, min: number, max: number): number {
    const value = this.values[key]
    if (value === undefined) return fallback
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(key, `an integer from ${min} to ${max}`)
    }
    return value
  }

  /** A finite number in [min, max]. */
  number (key: string, fallback: number, min: number, max: number): number {
    const value = this.values[key]
    if (value === undefined) return fallback
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
      this.fail(key, `a number from ${min} to ${max}`)
    }
    return value
  }

  boolean (key: string, fallback: boolean): boolean {
    const value = this.values[key]
    if (value === undefined) return fallback
    if (typeof value !== 'boolean') this.fail(key, 'a boolean')
    return value
  }

  /** A string matching `pattern` (described by `expected`), or the fallback when absent. */
  string<F extends string | null> (key: string, fallback: F, pattern: RegExp, expected: string): string | F {
    const value = this.values[key]
    if (value === undefined) return fallback
    if (typeof value !== 'string' || !pattern.test(value)) this.fail(key, expected)
    return value
  }

  /** A function, or null when absent. */
  func<T extends (...args: never[]) => unknown> (key: string, expected = 'a function'): T | null {
    const value = this.values[key]
    if (value === undefined) return null
    if (typeof value !== 'function') this.fail(key, expected)
    return value as T
  }

  /** One of `choices`, or the fallback when absent. */
  oneOf<C extends string> (key: string, choices: readonly C[], fallback: C): C {
    const value = this.values[key]
    if (value === undefined) return fallback
    if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) {
      this.fail(key, `one of ${choices.map((choice) => `"${choice}"`).join(', ')}`)
    }
    return value as C
  }
}
