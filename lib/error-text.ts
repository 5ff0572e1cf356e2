/**
 * Anything can be thrown: null, a symbol, a BigInt, an object without a prototype, a Proxy whose traps throw, an
 * Error whose `message` is a getter that throws or is itself an object. Every place that reads an error reads it
 * through these functions, which never throw and always return a bounded string, so an odd error can neither
 * break a view nor be lost.
 */

/** Said when nothing printable can be read from what was thrown. */
export const UNPRINTABLE = 'a thrown value that cannot be printed'

const cut = (text: string, maxLength: number): string =>
  text.length > maxLength ? `${text.slice(0, Math.max(0, maxLength - 1))}…` : text

/** `String(value)`, or undefined when its conversion throws (no toString, a toString or a trap that throws). */
function safeString (value: unknown): string | undefined {
  try {
    return String(value)
  } catch {
    return undefined
  }
}

/** A property read that a getter or a Proxy trap cannot turn into a throw. */
export function safeGet (value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key]
  } catch {
    return undefined
  }
}

/** A one-level description of a non-string message or of a thrown object: never its deep contents. */
function describe (value: unknown): string | undefined {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return safeString(value)
  const text = safeString(value)
  if (text !== undefined && text !== '[object Object]') return text
  try {
    return Object.prototype.toString.call(value)
  } catch {
    return undefined
  }
}

/**
 * The text of anything thrown, cut to `maxLength` characters: an Error's (or error-like object's) `message`,
 * its `name` when the message is empty or unreadable, else the value converted to a string. Total: never throws.
 */
export function errorText (thrown: unknown, maxLength: number): string {
  if (typeof thrown === 'string') return cut(thrown, maxLength)
  if (thrown === null || (typeof thrown !== 'object' && typeof thrown !== 'function')) {
    return cut(safeString(thrown) ?? UNPRINTABLE, maxLength)
  }
  const message = safeGet(thrown, 'message')
  if (typeof message === 'string' && message !== '') return cut(message, maxLength)
  if (message !== undefined && message !== null && typeof message !== 'string') {
    const text = describe(message)
    if (text !== undefined) return cut(text, maxLength)
  }
  const name = safeGet(thrown, 'name')
  if (typeof name === 'string' && name !== '') return cut(name, maxLength)
  return cut(describe(thrown) ?? UNPRINTABLE, maxLength)
}

const MAX_CODE_LENGTH = 64

/** The `code` of a thrown value when it is a string or a number (`ECONNREFUSED`, 11000), cut to 64 characters. */
export function errorCode (thrown: unknown): string | undefined {
  if (thrown === null || (typeof thrown !== 'object' && typeof thrown !== 'function')) return undefined
  const code = safeGet(thrown, 'code')
  if (typeof code === 'string') return code === '' ? undefined : cut(code, MAX_CODE_LENGTH)
  if (typeof code === 'number' && Number.isFinite(code)) return String(code)
  return undefined
}

const MAX_LOG_MESSAGE_LENGTH = 1000
const MAX_LOG_STACK_LENGTH = 4000

/**
 * What the plugin's own log lines carry under `err`: a plain object of strings read through the functions above,
 * so that the logger's serialiser never meets a getter that throws, a BigInt or a cycle.
 */
export function loggableError (thrown: unknown): { message: string, code?: string, stack?: string } {
  const message = errorText(thrown, MAX_LOG_MESSAGE_LENGTH)
  const code = errorCode(thrown)
  const stack = thrown !== null && (typeof thrown === 'object' || typeof thrown === 'function') ? safeGet(thrown, 'stack') : undefined
  return {
    message,
    ...(code === undefined ? {} : { code }),
    ...(typeof stack === 'string' ? { stack: cut(stack, MAX_LOG_STACK_LENGTH) } : {})
  }
}
