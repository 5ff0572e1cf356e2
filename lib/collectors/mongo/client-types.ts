/**
 * The parts of the `mongodb` driver this package reads, written out structurally: the emitted .d.ts files then never
 * import `mongodb`, so an application without it type-checks with `skipLibCheck: false`. A real `MongoClient` is
 * assignable to `MongoClientLike`, and each driver event to its shape here: test/types/mongo-client.ts pins both.
 */

/** A BSON document as the driver returns it. */
export interface MongoDocument {
  [key: string]: unknown
}

/** A MongoClient from the official `mongodb` driver (6 or later), as far as the plugin uses it. */
export interface MongoClientLike {
  db (name: string): { command (command: MongoDocument, options: { signal: AbortSignal }): Promise<MongoDocument> }
  on (event: string, listener: (event: never) => void): unknown
  off (event: string, listener: (event: never) => void): unknown
  /** `monitorCommands` tells whether command events are emitted at all. */
  readonly options: { readonly monitorCommands?: boolean }
}

/** `admin` database of the client: what the ping and serverStatus run on. */
export type MongoAdminDb = ReturnType<MongoClientLike['db']>

// Command monitoring (needs `monitorCommands: true`).
export interface MongoCommandStartedEvent {
  readonly requestId: number
  readonly commandName: string
  readonly command: MongoDocument
}
export interface MongoCommandEndedEvent {
  readonly requestId: number
  readonly commandName: string
  readonly databaseName: string
  /** Milliseconds. */
  readonly duration: number
}

// Connection pool (CMAP).
export interface MongoConnectionEvent {
  readonly address: string
  readonly connectionId: number | '<monitor>'
}
export interface MongoCheckOutStartedEvent {
  readonly address: string
  readonly time: Date
}
export interface MongoCheckOutEndedEvent {
  readonly address: string
  readonly time: Date
  /** Milliseconds; drivers before 6.9 do not report it. */
  readonly durationMS?: number
}
export interface MongoCheckedOutEvent extends MongoCheckOutEndedEvent {
  readonly connectionId: number | '<monitor>'
}
export interface MongoPoolEvent {
  readonly address: string
}

// Topology (SDAM).
export interface MongoServerDescription {
  readonly type: string
  readonly error: unknown
}
export interface MongoTopologyDescription {
  readonly type: string
  readonly servers: ReadonlyMap<string, MongoServerDescription>
}
export interface MongoTopologyChangedEvent {
  readonly newDescription: MongoTopologyDescription
}
export interface MongoHeartbeatSucceededEvent {
  readonly connectionId: string
  readonly duration: number
  readonly awaited: boolean
}
export interface MongoHeartbeatFailedEvent {
  readonly failure: unknown
}
