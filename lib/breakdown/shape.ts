/**
 * A MongoDB command's shape: the command document with every value replaced by "?", so that the same query with
 * other values has the same shape (what N+1 detection counts) and no value ever leaves the process (filters and
 * documents may hold personal data). Field names and operators stay; so does the collection name of a command
 * that names one. Bounded in depth, in keys and in length.
 */

/** Commands whose first value is the collection they run on. */
const COLLECTION_COMMANDS = new Set([
  'find', 'aggregate', 'count', 'distinct', 'insert', 'update', 'delete', 'findAndModify', 'createIndexes',
  'dropIndexes', 'listIndexes', 'create', 'drop', 'collMod', 'validate', 'mapReduce', 'bulkWrite'
])

/** Set by the driver, not the application: session, cluster time, transaction and read/write concern fields. */
const DRIVER_FIELDS = new Set([
  '$db', 'lsid', '$clusterTime', 'txnNumber', 'autocommit', 'startTransaction', '$readPreference', 'readConcern',
  'writeConcern', 'apiVersion', 'apiStrict', 'apiDeprecationErrors', 'maxTimeMS', 'comment', '$audit', 'cursor',
  'batchSize', 'ordered', 'bypassDocumentValidation', 'let', 'recoveryToken'
])

/** Batches of the write commands: their documents differ in number, not in kind; the first one stands for all. */
const BATCH_FIELDS = new Set(['documents', 'updates', 'deletes'])

export const MAX_SHAPE_LENGTH = 300
const MAX_DEPTH = 5
const MAX_KEYS = 16
const MAX_ELEMENTS = 8
const MAX_KEY_LENGTH = 64

export interface CommandShape {
  readonly collection: string | null
  readonly shape: string
}

/** The collection a command runs on, or null (a getMore names it in `collection`). */
export function collectionOf (commandName: string, command: Readonly<Record<string, unknown>>): string | null {
  const value = commandName === 'getMore' ? command.collection : COLLECTION_COMMANDS.has(commandName) ? command[commandName] : undefined
  return typeof value === 'string' ? value.slice(0, MAX_KEY_LENGTH) : null
}

export function commandShape (commandName: string, command: Readonly<Record<string, unknown>>): CommandShape {
  const collection = collectionOf(commandName, command)
  const named = collection === null ? '"?"' : JSON.stringify(collection)
  // A getMore's own value is a cursor id; the collection it reads is in `collection`.
  const parts: string[] = commandName === 'getMore'
    ? ['"getMore":"?"', `"collection":${named}`]
    : [`${JSON.stringify(commandName)}:${named}`]
  let keys = 0
  for (const key in command) {
    if (key === commandName || DRIVER_FIELDS.has(key) || (commandName === 'getMore' && key === 'collection')) continue
    if (++keys > MAX_KEYS) {
      parts.push('"…":"?"')
      break
    }
    const value = command[key]
    parts.push(`${keyText(key)}:${BATCH_FIELDS.has(key) && Array.isArray(value) ? batchShape(value) : valueShape(value, 1)}`)
  }
  let shape = `{${parts.join(',')}}`
  if (shape.length > MAX_SHAPE_LENGTH) shape = `${shape.slice(0, MAX_SHAPE_LENGTH - 1)}…`
  return { collection, shape }
}

function keyText (key: string): string {
  return JSON.stringify(key.length > MAX_KEY_LENGTH ? `${key.slice(0, MAX_KEY_LENGTH)}…` : key)
}

function batchShape (batch: readonly unknown[]): string {
  return batch.length === 0 ? '[]' : `[${valueShape(batch[0], 1)}]`
}

/**
 * "?" for every value; objects keep their keys; an array of values is one "?" (an `$in` list of any length has one
 * shape), an array holding documents (an `$or`, a pipeline) keeps each one's shape.
 */
function valueShape (value: unknown, depth: number): string {
  if (value === null || typeof value !== 'object' || isBsonValue(value)) return '"?"'
  if (depth >= MAX_DEPTH) return '"…"'
  if (Array.isArray(value)) {
    if (!value.some((element) => isDocument(element))) return '"?"'
    const elements = value.slice(0, MAX_ELEMENTS).map((element) => valueShape(element, depth + 1))
    if (value.length > MAX_ELEMENTS) elements.push('"…"')
    return `[${elements.join(',')}]`
  }
  const parts: string[] = []
  let keys = 0
  for (const key in value as Record<string, unknown>) {
    if (++keys > MAX_KEYS) {
      parts.push('"…":"?"')
      break
    }
    parts.push(`${keyText(key)}:${valueShape((value as Record<string, unknown>)[key], depth + 1)}`)
  }
  return `{${parts.join(',')}}`
}

function isDocument (value: unknown): boolean {
  return value !== null && typeof value === 'object' && !Array.isArray(value) && !isBsonValue(value)
}

/** An ObjectId, a Long, a Date, a Binary, a RegExp, a Decimal128...: one value, not a document to walk. */
function isBsonValue (value: object): boolean {
  if (value instanceof Date || value instanceof RegExp || ArrayBuffer.isView(value)) return true
  return typeof (value as { _bsontype?: unknown })._bsontype === 'string'
}
