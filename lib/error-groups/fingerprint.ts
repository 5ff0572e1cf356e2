import { createHash } from 'node:crypto'
import { errorCode, safeGet } from '../error-text.js'

/**
 * What makes two errors "the same problem" (docs/errors-and-releases.md, "Grouping"):
 *
 * - A validation error (Fastify's 400 from a route schema: `code` FST_ERR_VALIDATION with a `validation` array):
 *   its route and the failing keyword (`required`, `type`, ...), whatever the value sent.
 * - An error with a stack that has frames of the app: its class, its `code` and its top TOP_FRAMES app frames,
 *   each named by function and file (relative to the app's root); frames under node_modules and Node's internals
 *   are collapsed to their package (`fastify`) and `node:`; lines and columns are ignored, so that an edit
 *   elsewhere in the file keeps the group. An anonymous function (`Object.<anonymous>`, an arrow given straight
 *   to `app.get`) has nothing but its place to tell it apart: as the throw site (the top app frame) it keeps its
 *   line; as a caller it does not (a helper called from two handlers of one file is one problem).
 * - Any other error (no stack, or a stack only through libraries): its class, its `code`, the collapsed library
 *   frames, and its message with numbers, hex ids, UUIDs and quoted values replaced by placeholders
 *   (`user 17 not found` and `user 42 not found` are one group).
 */
export const TOP_FRAMES = 3
/** Only this much of a message is normalised: the rest cannot tell groups apart and would cost time. */
const MAX_MESSAGE_FOR_FINGERPRINT = 300
/** A fingerprint longer than this is cut: it is held by its group and persisted. */
const MAX_FINGERPRINT_LENGTH = 1024
/** Frames read from a stack at most (V8 keeps 10 by default: `Error.stackTraceLimit`). */
const MAX_FRAMES_READ = 50
export const VALIDATION_CODE = 'FST_ERR_VALIDATION'

/** The hash of a fingerprint: a group's `id`, the same in every process and after every restart. */
export function groupId (fingerprint: string): string {
  return createHash('sha256').update(fingerprint).digest('hex').slice(0, 16)
}

/** `value[key]` for anything thrown: undefined for a primitive, a getter or a Proxy trap that throws. */
export function readProperty (value: unknown, key: string): unknown {
  return value !== null && (typeof value === 'object' || typeof value === 'function') ? safeGet(value, key) : undefined
}
const read = readProperty

/** The class of what was thrown: its constructor's name, else its `name`, else its type (`string`, `null`). */
export function errorClass (thrown: unknown): string {
  if (thrown === null) return 'null'
  if (typeof thrown !== 'object' && typeof thrown !== 'function') return typeof thrown
  const constructorName = read(read(thrown, 'constructor'), 'name')
  const name = read(thrown, 'name')
  // A subclass names itself by its constructor; a plain Error renamed (`error.name = 'MongoServerError'`) by its name.
  if (typeof constructorName === 'string' && constructorName !== '' && constructorName !== 'Object' &&
    (constructorName !== 'Error' || typeof name !== 'string' || name === '')) return constructorName.slice(0, 100)
  return typeof name === 'string' && name !== '' ? name.slice(0, 100) : 'Object'
}

const QUOTED = /"[^"]*"|'[^']*'|`[^`]*`/g
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/gi
/** `0x1f`, and runs of 8 or more hex digits holding at least one digit (ObjectIds, hashes, request ids). */
const HEX = /\b0x[0-9a-f]+\b|\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/gi
const NUMBER = /\d+(?:\.\d+)?/g

/** A message with what varies between occurrences of one problem replaced: `user <n> not found`. */
export function normalizeMessage (message: string): string {
  return message.slice(0, MAX_MESSAGE_FOR_FINGERPRINT)
    .replace(QUOTED, '<str>')
    .replace(UUID, '<uuid>')
    .replace(HEX, '<hex>')
    .replace(NUMBER, '<n>')
}

/** One parsed stack line: the function (empty when anonymous), the file, the line; null if it is no frame. */
interface Frame { fn: string, file: string, line: string }

const FRAME = /^\s*at (?:async )?(?:(.*?) \()?(.*?)(?::(\d+))?(?::\d+)?\)?$/

function parseFrame (text: string): Frame | null {
  const match = FRAME.exec(text)
  if (match === null) return null
  return { fn: match[1] ?? '', file: match[2] ?? '', line: match[3] ?? '' }
}

const ANONYMOUS = /(^|\.)<anonymous>$/

/** `node:` for Node's internals, the package name for a file under node_modules, null for a file of the app. */
function libraryOf (file: string): string | null {
  // `node:fs`, `internal/...`, `native`, `<anonymous>`, `index 0` (Promise.all): no file of anybody's.
  if (file.startsWith('node:') || file.startsWith('internal/') || (!file.includes('/') && !file.includes('\\'))) return 'node:'
  const at = Math.max(file.lastIndexOf('/node_modules/'), file.lastIndexOf('\\node_modules\\'))
  if (at === -1) return null
  const rest = file.slice(at + 14).split(/[/\\]/)
  return rest[0]!.startsWith('@') && rest.length > 1 ? `${rest[0]}/${rest[1]}` : rest[0]!
}

/** A file of the app named from the app's root, so that two checkouts of one app give the same fingerprint. */
function appFile (file: string, root: string): string {
  const path = file.startsWith('file://') ? file.slice(7) : file
  return root !== '' && path.startsWith(root) ? path.slice(root.length).replace(/^[/\\]+/, '') : path
}

/** The frames of a stack, each as it enters a fingerprint; library runs collapsed. Also whether any is the app's. */
export function stackFrames (stack: string, root: string): { frames: string[], inApp: number } {
  const frames: string[] = []
  let inApp = 0
  let lastLibrary: string | null = null
  let start = stack.indexOf('\n    at ')
  for (let read = 0; start !== -1 && read < MAX_FRAMES_READ; read++) {
    const end = stack.indexOf('\n', start + 1)
    const frame = parseFrame(stack.slice(start + 1, end === -1 ? undefined : end))
    start = end === -1 ? -1 : stack.indexOf('\n    at ', end)
    if (frame === null) continue
    const library = libraryOf(frame.file)
    if (library !== null) {
      if (library !== lastLibrary) frames.push(library)
      lastLibrary = library
      continue
    }
    lastLibrary = null
    const fn = frame.fn === '' || ANONYMOUS.test(frame.fn) ? '' : frame.fn
    const file = appFile(frame.file, root)
    // Only the throw site keeps its line: a caller's line would split one problem by the place it was called from.
    frames.push(fn !== '' ? `${fn} ${file}` : inApp === 0 ? `<anonymous> ${file}:${frame.line}` : `<anonymous> ${file}`)
    if (++inApp === TOP_FRAMES) break
  }
  return { frames, inApp }
}

/** The failing keyword of a validation error: its first entry's `keyword`, else `validation`. */
function validationKeyword (validation: unknown): string {
  if (!Array.isArray(validation)) return 'validation'
  const keyword = read(validation[0], 'keyword')
  return typeof keyword === 'string' && keyword !== '' ? keyword.slice(0, 100) : 'validation'
}

/**
 * The fingerprint of an error that reached `route` (a `METHOD /pattern` key): a string, equal for two errors of
 * one group and for nothing else. `message` is the error's text as read once by the caller (lib/error-text.ts).
 * Never throws.
 */
export function fingerprint (thrown: unknown, route: string, message: string, root: string): string {
  const name = errorClass(thrown)
  const code = errorCode(thrown) ?? ''
  const validation = read(thrown, 'validation')
  if (code === VALIDATION_CODE || (Array.isArray(validation) && read(thrown, 'statusCode') === 400)) {
    const context = read(thrown, 'validationContext')
    return `validation\n${route}\n${typeof context === 'string' ? context.slice(0, 50) : ''}\n${validationKeyword(validation)}`
  }
  const stack = read(thrown, 'stack')
  const { frames, inApp } = typeof stack === 'string' ? stackFrames(stack, root) : { frames: [], inApp: 0 }
  const text = inApp > 0
    ? `stack\n${name}\n${code}\n${frames.join('\n')}`
    : `message\n${name}\n${code}\n${frames.join('\n')}\n${normalizeMessage(message)}`
  return text.length > MAX_FINGERPRINT_LENGTH ? text.slice(0, MAX_FINGERPRINT_LENGTH) : text
}

const MAX_SAMPLE_FRAMES = 10
const MAX_SAMPLE_LENGTH = 2000

/**
 * The stack kept as a group's sample: its first line (the class and message, cut like a recent error's message by
 * the caller) and up to MAX_SAMPLE_FRAMES frames, app frames with their lines, library runs as one line each.
 */
export function sampleStack (thrown: unknown, firstLine: string, root: string): string | null {
  const stack = read(thrown, 'stack')
  if (typeof stack !== 'string') return null
  const lines = [firstLine]
  let lastLibrary: string | null = null
  let start = stack.indexOf('\n    at ')
  for (let read = 0; start !== -1 && lines.length <= MAX_SAMPLE_FRAMES && read < MAX_FRAMES_READ; read++) {
    const end = stack.indexOf('\n', start + 1)
    const text = stack.slice(start + 1, end === -1 ? undefined : end)
    start = end === -1 ? -1 : stack.indexOf('\n    at ', end)
    const frame = parseFrame(text)
    if (frame === null) continue
    const library = libraryOf(frame.file)
    if (library === null) {
      lastLibrary = null
      lines.push(`    at ${frame.fn === '' ? '' : `${frame.fn} (`}${appFile(frame.file, root)}${frame.line === '' ? '' : `:${frame.line}`}${frame.fn === '' ? '' : ')'}`)
    } else if (library !== lastLibrary) {
      lastLibrary = library
      lines.push(`    at … (${library})`)
    }
  }
  const text = lines.join('\n')
  return text.length > MAX_SAMPLE_LENGTH ? `${text.slice(0, MAX_SAMPLE_LENGTH - 1)}…` : text
}
