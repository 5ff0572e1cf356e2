/**
 * A MongoDB wire-protocol server for tests: enough of a standalone mongod for the official driver to connect,
 * run commands and fire every monitoring event. It speaks OP_MSG, plus the legacy OP_QUERY used by the driver's
 * first handshake. No compressors are offered and the hello reply has no `topologyVersion`, so the driver polls
 * with plain (non-awaited) heartbeats.
 */
import net from 'node:net'
import { once } from 'node:events'
import { serialize, deserialize, Long, type Document } from 'bson'

const OP_REPLY = 1
const OP_QUERY = 2004
const OP_MSG = 2013
const HEADER_SIZE = 16
const CHECKSUM_PRESENT = 1
const MORE_TO_COME = 2

/** `normal` answers; `blackhole` accepts connections and reads requests but never replies. */
export type MongoServerMode = 'normal' | 'blackhole'

export interface CommandFailure { code: number, codeName: string, errmsg: string, times?: number }

export interface MongoServerOptions {
  /** Answer `serverStatus` (default) or fail it with `Unauthorized` (code 13). */
  serverStatus?: 'allow' | 'unauthorized'
  /** Delay before every reply, in ms (default 0). */
  delayMs?: number
}

export interface TestMongoServer {
  port: number
  uri: string
  /** How many times each command name was received (handshakes included). */
  received: Map<string, number>
  /** Documents stored per `db.collection` by `insert`. */
  collections: Map<string, Document[]>
  setMode (mode: MongoServerMode): void
  setDelay (ms: number): void
  setServerStatus (mode: 'allow' | 'unauthorized'): void
  /** The next `times` (default: every) `name` commands fail with the given server error. */
  failCommand (name: string, failure?: Partial<CommandFailure>): void
  clearFailures (): void
  /** Closes the listener and destroys every open socket; the port stays reserved for `restart()`. */
  stop (): Promise<void>
  restart (): Promise<void>
}

export async function startMongoServer (opts: MongoServerOptions = {}): Promise<TestMongoServer> {
  const sockets = new Set<net.Socket>()
  const failures = new Map<string, CommandFailure>()
  const received = new Map<string, number>()
  const collections = new Map<string, Document[]>()
  let mode: MongoServerMode = 'normal'
  let delayMs = opts.delayMs ?? 0
  let serverStatus = opts.serverStatus ?? 'allow'
  let nextConnectionId = 1
  let nextRequestId = 1

  function answer (body: Document, sections: Record<string, Document[]>, connectionId: number): Document {
    const name = Object.keys(body)[0] ?? ''
    const key = name.toLowerCase()
    received.set(name, (received.get(name) ?? 0) + 1)
    const failure = failures.get(key)
    if (failure != null) {
      if (failure.times !== undefined && --failure.times <= 0) failures.delete(key)
      return { ok: 0, errmsg: failure.errmsg, code: failure.code, codeName: failure.codeName }
    }
    const ns = `${body.$db ?? 'test'}.${body[name]}`
    switch (key) {
      case 'hello': case 'ismaster':
        return {
          helloOk: true,
          ismaster: true,
          isWritablePrimary: true,
          maxBsonObjectSize: 16 * 1024 * 1024,
          maxMessageSizeBytes: 48_000_000,
          maxWriteBatchSize: 100_000,
          localTime: new Date(),
          logicalSessionTimeoutMinutes: 30,
          connectionId,
          minWireVersion: 0,
          maxWireVersion: 21,
          readOnly: false,
          ok: 1
        }
      case 'ping': case 'endsessions': return { ok: 1 }
      case 'buildinfo': return { version: '7.0.0', versionArray: [7, 0, 0, 0], ok: 1 }
      case 'serverstatus':
        if (serverStatus === 'unauthorized') {
          return { ok: 0, errmsg: 'not authorized on admin to execute command { serverStatus: 1 }', code: 13, codeName: 'Unauthorized' }
        }
        return {
          host: 'test-mongo',
          version: '7.0.0',
          uptime: 60,
          connections: { current: sockets.size, available: 800, totalCreated: nextConnectionId - 1 },
          opcounters: { insert: received.get('insert') ?? 0, query: received.get('find') ?? 0, update: 0, delete: 0, getmore: 0, command: 10 },
          mem: { bits: 64, resident: 42, virtual: 1024 },
          ok: 1
        }
      case 'insert': {
        const docs = [...(body.documents ?? []), ...(sections.documents ?? [])]
        collections.set(ns, [...(collections.get(ns) ?? []), ...docs])
        return { n: docs.length, ok: 1 }
      }
      case 'find': case 'aggregate':
        return { cursor: { id: Long.fromNumber(0), ns, firstBatch: collections.get(ns) ?? [] }, ok: 1 }
      case 'getmore': return { cursor: { id: Long.fromNumber(0), ns, nextBatch: [] }, ok: 1 }
      case 'update': case 'delete': return { n: 0, nModified: 0, ok: 1 }
      default: return { ok: 0, errmsg: `no such command: '${name}'`, code: 59, codeName: 'CommandNotFound' }
    }
  }

  function reply (socket: net.Socket, responseTo: number, opCode: number, doc: Document): void {
    const bson = serialize(doc)
    const prefix = Buffer.alloc(opCode === OP_REPLY ? 20 : 5)
    if (opCode === OP_REPLY) {
      prefix.writeInt32LE(1, 16) // numberReturned; responseFlags, cursorId and startingFrom stay 0
    } // OP_MSG: flagBits 0, then section kind 0
    const header = Buffer.alloc(HEADER_SIZE)
    header.writeInt32LE(HEADER_SIZE + prefix.length + bson.length, 0)
    header.writeInt32LE(nextRequestId++, 4)
    header.writeInt32LE(responseTo, 8)
    header.writeInt32LE(opCode, 12)
    const send = (): void => { if (mode === 'normal' && !socket.destroyed) socket.write(Buffer.concat([header, prefix, bson])) }
    if (delayMs > 0) setTimeout(send, delayMs).unref()
    else send()
  }

  function handle (socket: net.Socket, message: Buffer, connectionId: number): void {
    const requestId = message.readInt32LE(4)
    const opCode = message.readInt32LE(12)
    if (opCode === OP_QUERY) {
      const nameEnd = message.indexOf(0, HEADER_SIZE + 4)
      const query = deserialize(message.subarray(nameEnd + 9))
      reply(socket, requestId, OP_REPLY, answer(query, {}, connectionId))
    } else if (opCode === OP_MSG) {
      const flags = message.readUInt32LE(HEADER_SIZE)
      const end = message.length - ((flags & CHECKSUM_PRESENT) !== 0 ? 4 : 0)
      let body: Document = {}
      const sections: Record<string, Document[]> = {}
      for (let at = HEADER_SIZE + 4; at < end;) {
        const size = message.readInt32LE(at + 1)
        if (message[at] === 0) {
          body = deserialize(message.subarray(at + 1, at + 1 + size))
        } else { // kind 1: size, identifier, then documents
          const idEnd = message.indexOf(0, at + 5)
          const docs: Document[] = []
          for (let doc = idEnd + 1; doc < at + 1 + size; doc += message.readInt32LE(doc)) {
            docs.push(deserialize(message.subarray(doc, doc + message.readInt32LE(doc))))
          }
          sections[message.toString('utf8', at + 5, idEnd)] = docs
        }
        at += 1 + size
      }
      const response = answer(body, sections, connectionId)
      if ((flags & MORE_TO_COME) === 0) reply(socket, requestId, OP_MSG, response)
    } else {
      socket.destroy() // OP_COMPRESSED and the rest are never negotiated
    }
  }

  const server = net.createServer((socket) => {
    sockets.add(socket)
    const connectionId = nextConnectionId++
    let buffered = Buffer.alloc(0)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk])
      while (buffered.length >= 4 && buffered.length >= buffered.readInt32LE(0)) {
        const length = buffered.readInt32LE(0)
        const message = buffered.subarray(0, length)
        buffered = buffered.subarray(length)
        if (mode === 'normal') handle(socket, message, connectionId)
      }
    })
  })

  async function listen (port: number): Promise<number> {
    server.listen(port, '127.0.0.1')
    await once(server, 'listening')
    return (server.address() as net.AddressInfo).port
  }

  const port = await listen(0)
  return {
    port,
    uri: `mongodb://127.0.0.1:${port}/test?directConnection=true`,
    received,
    collections,
    setMode (next) { mode = next },
    setDelay (ms) { delayMs = ms },
    setServerStatus (next) { serverStatus = next },
    failCommand (name, failure = {}) {
      failures.set(name.toLowerCase(), { code: 2, codeName: 'BadValue', errmsg: `${name} failed on purpose`, ...failure })
    },
    clearFailures () { failures.clear() },
    async stop () {
      for (const socket of sockets) socket.destroy()
      if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()))
    },
    async restart () { await listen(port) }
  }
}
