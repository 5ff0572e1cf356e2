import { errorCode, errorText } from '../error-text.js'
import { OTHER_STATUS_KEY } from '../requests/figures.js'
import { errorClass, fingerprint, groupId, readProperty as read, sampleStack, VALIDATION_CODE } from './fingerprint.js'
import { MinuteSeries, minuteOf } from './series.js'
import type { ErrorGroupSnapshot } from '../schemas/errors.js'
import { ERROR_GROUPS_FORMAT, ERROR_GROUPS_FORMAT_VERSION, type StoredErrorGroup, type StoredErrorGroups } from './stored.js'

export const DEFAULT_MAX_ERROR_GROUPS = 100
/** Routes counted per group; the rest share OVERFLOW_ENDPOINT. */
export const MAX_GROUP_ENDPOINTS = 20
export const OVERFLOW_ENDPOINT = '(other routes)'
/** Status codes counted per group; the rest share slot 0 (`other`). */
const MAX_GROUP_STATUS_CODES = 20
/** Stacks remembered with their fingerprint, so that an error thrown again at one place is not parsed again. */
const FINGERPRINT_CACHE_SIZE = 200
/** A longer stack is not remembered: the cache holds its key. */
const MAX_CACHED_STACK_LENGTH = 8192

/** One group as the snapshot shows it: `application.errorGroups[]`. */
export type ErrorGroupView = ErrorGroupSnapshot

export class ErrorGroup {
  count = 0
  firstSeen = Infinity
  lastSeen = 0
  /** The release in which the last `error.new` was raised for it; undefined: never. */
  alertedRelease: string | null | undefined = undefined
  readonly endpoints = new Map<string, number>()
  readonly statusCodes = new Map<number, number>()
  readonly perMinute = new MinuteSeries()

  constructor (
    readonly id: string,
    readonly fingerprint: string,
    readonly name: string,
    readonly code: string | null,
    public message: string,
    public firstRelease: string | null,
    public stack: string | null
  ) {}

  addEndpoint (route: string, n: number): void {
    const count = this.endpoints.get(route)
    if (count !== undefined) this.endpoints.set(route, count + n)
    else if (this.endpoints.size < MAX_GROUP_ENDPOINTS || route === OVERFLOW_ENDPOINT) this.endpoints.set(route, n)
    else this.addEndpoint(OVERFLOW_ENDPOINT, n)
  }

  addStatus (statusCode: number, n: number): void {
    const count = this.statusCodes.get(statusCode)
    if (count !== undefined) this.statusCodes.set(statusCode, count + n)
    else if (this.statusCodes.size < MAX_GROUP_STATUS_CODES || statusCode === 0) this.statusCodes.set(statusCode, n)
    else this.addStatus(0, n)
  }

  view (nowMinute: number): ErrorGroupView {
    const statusCodes: Record<string, number> = {}
    for (const [code, n] of this.statusCodes) statusCodes[code === 0 ? OTHER_STATUS_KEY : code] = n
    return {
      id: this.id,
      name: this.name,
      code: this.code,
      message: this.message,
      count: this.count,
      firstSeen: new Date(this.firstSeen).toISOString(),
      lastSeen: new Date(this.lastSeen).toISOString(),
      firstRelease: this.firstRelease,
      endpoints: Object.fromEntries(this.endpoints),
      statusCodes,
      stack: this.stack,
      perMinute: this.perMinute.read(nowMinute)
    }
  }

  toJSON (): StoredErrorGroup {
    const statusCodes: Record<string, number> = {}
    for (const [code, n] of this.statusCodes) statusCodes[code] = n
    return {
      id: this.id,
      fingerprint: this.fingerprint,
      name: this.name,
      code: this.code,
      message: this.message,
      count: this.count,
      firstSeen: this.firstSeen,
      lastSeen: this.lastSeen,
      firstRelease: this.firstRelease,
      ...(this.alertedRelease === undefined ? {} : { alertedRelease: this.alertedRelease }),
      endpoints: Object.fromEntries(this.endpoints),
      statusCodes,
      stack: this.stack,
      perMinute: this.perMinute.toJSON()
    }
  }
}

export interface ErrorGroupStoreOptions {
  /** At most this many groups; the least recently seen is evicted for a new one. */
  maxGroups?: number
  /** The release running now: a new group's `firstRelease`, and what `error.new` is raised once per. */
  release?: string | null
  /** Messages (and a sample stack's first line) are cut to this many characters, as recent errors are. */
  maxMessageLength?: number
  /** App files in fingerprints and stacks are named from here (default: the working directory). */
  root?: string
}

interface CachedFingerprint { constructor: unknown, code: unknown, fingerprint: string }

/**
 * The error groups of one process (or, filled by `absorb`, of a fleet): fixed memory, at most `maxGroups` groups.
 * `record` runs for each error that reached Fastify's error handling, never per request; it builds the
 * fingerprint (a stack thrown again at the same place is found in a small cache instead) and counts into maps and
 * a ring that only a new group allocates.
 */
export class ErrorGroupStore {
  readonly maxGroups: number
  readonly release: string | null
  /** Groups evicted to stay within maxGroups (in a merged store: every process's evictions too). */
  evicted = 0
  /** Bumped by every change: a writer of the groups can tell whether they changed since it last wrote. */
  version = 0
  private readonly groups = new Map<string, ErrorGroup>()
  private readonly cache = new Map<string, CachedFingerprint>()
  private readonly maxMessageLength: number
  private readonly root: string
  /** Groups that raised `error.new` since the last `takeNew()`, at most maxGroups. */
  private fresh: ErrorGroup[] = []

  constructor ({ maxGroups = DEFAULT_MAX_ERROR_GROUPS, release = null, maxMessageLength = 200, root = process.cwd() }: ErrorGroupStoreOptions = {}) {
    this.maxGroups = maxGroups
    this.release = release
    this.maxMessageLength = maxMessageLength
    this.root = root
  }

  get size (): number {
    return this.groups.size
  }

  /** Counts one error that reached `route` (a `METHOD /pattern` key) and was answered with `statusCode`. */
  record (thrown: unknown, route: string, statusCode: number, now = Date.now()): ErrorGroup {
    const message = errorText(thrown, this.maxMessageLength)
    const key = this.fingerprintOf(thrown, route, message)
    let group = this.groups.get(key)
    if (group === undefined) group = this.create(key, thrown, message, now)
    else group.message = message
    group.count++
    if (now < group.firstSeen) group.firstSeen = now
    if (now > group.lastSeen) group.lastSeen = now
    group.addEndpoint(route, 1)
    group.addStatus(statusCode >= 100 && statusCode < 1000 && (statusCode | 0) === statusCode ? statusCode : 0, 1)
    group.perMinute.add(minuteOf(now))
    this.version++
    if (group.alertedRelease !== this.release) {
      group.alertedRelease = this.release
      if (this.fresh.length < this.maxGroups) this.fresh.push(group)
    }
    return group
  }

  /** Forgets every group (their counts were handed over elsewhere: see lib/error-groups/shared.ts). */
  clear (): void {
    this.groups.clear()
    this.fresh = []
    this.evicted = 0
    this.version++
  }

  /**
   * The groups seen for the first time in this release since the last call: what `error.new` is raised for, but
   * those `raisedElsewhere` says another process raised already.
   */
  takeNew (raisedElsewhere?: (group: ErrorGroup) => boolean): ErrorGroup[] {
    const fresh = this.fresh
    if (fresh.length > 0) this.fresh = []
    return raisedElsewhere === undefined ? fresh : fresh.filter((group) => !raisedElsewhere(group))
  }

  /** A group's occurrences over the last minute (what a rule on `application.errorGroups["<id>"].perMinute` reads). */
  perMinute (id: string, now: number): number | null {
    return this.get(id)?.perMinute.lastMinute(now) ?? null
  }

  get (id: string): ErrorGroup | undefined {
    for (const group of this.groups.values()) if (group.id === id) return group
    return undefined
  }

  /** The groups, most recently seen first. */
  list (): ErrorGroup[] {
    return [...this.groups.values()].sort((a, b) => b.lastSeen - a.lastSeen || b.count - a.count)
  }

  /** The `n` most counted groups (the most recently seen among equals): what /metrics labels by id. */
  top (n: number): ErrorGroup[] {
    return [...this.groups.values()].sort((a, b) => b.count - a.count || b.lastSeen - a.lastSeen).slice(0, n)
  }

  /** `application.errorGroups`: most recently seen first, each with its last hour up to `now`. */
  view (now = Date.now()): ErrorGroupView[] {
    const minute = minuteOf(now)
    return this.list().map((group) => group.view(minute))
  }

  toJSON (): StoredErrorGroups {
    return { format: ERROR_GROUPS_FORMAT, version: ERROR_GROUPS_FORMAT_VERSION, evicted: this.evicted, groups: this.list().map((group) => group.toJSON()) }
  }

  /**
   * Adds stored groups (from the history, or another process) into these: counts and series add, first seen takes
   * the earlier, last seen and the latest message the later. Exact, whatever the order: a fleet's view is the
   * absorb of every process's groups into an empty store.
   */
  absorb (stored: StoredErrorGroups): this {
    this.evicted += stored.evicted
    for (const from of stored.groups) {
      let group = this.groups.get(from.fingerprint)
      if (group === undefined) {
        group = new ErrorGroup(from.id, from.fingerprint, from.name, from.code, from.message, from.firstRelease, from.stack)
        // Not evicting as it goes: the groups kept must not depend on the order of the absorbs.
        this.groups.set(group.fingerprint, group)
      } else {
        if (from.lastSeen > group.lastSeen) group.message = from.message
        if (from.firstSeen < group.firstSeen) {
          group.firstRelease = from.firstRelease
          if (from.stack !== null) group.stack = from.stack
        }
        group.stack ??= from.stack
      }
      group.count += from.count
      if (from.firstSeen < group.firstSeen) group.firstSeen = from.firstSeen
      if (from.lastSeen >= group.lastSeen) {
        group.lastSeen = from.lastSeen
        if (from.alertedRelease !== undefined) group.alertedRelease = from.alertedRelease
      }
      for (const [route, n] of Object.entries(from.endpoints)) group.addEndpoint(route, n)
      for (const [code, n] of Object.entries(from.statusCodes)) group.addStatus(code === OTHER_STATUS_KEY ? 0 : Number(code), n)
      group.perMinute.addSeries(MinuteSeries.fromJSON(from.perMinute))
    }
    this.version++
    // A merge may hold more than maxGroups for a moment: the least recently seen go, counted.
    while (this.groups.size > this.maxGroups) this.evictOldest()
    return this
  }

  private fingerprintOf (thrown: unknown, route: string, message: string): string {
    const stack = read(thrown, 'stack')
    if (typeof stack !== 'string' || stack.length > MAX_CACHED_STACK_LENGTH || read(thrown, 'code') === VALIDATION_CODE) {
      return fingerprint(thrown, route, message, this.root)
    }
    const constructor = read(thrown, 'constructor')
    const code = read(thrown, 'code')
    const cached = this.cache.get(stack)
    if (cached !== undefined && cached.constructor === constructor && cached.code === code) return cached.fingerprint
    const key = fingerprint(thrown, route, message, this.root)
    // Only a fingerprint of stack frames depends on nothing but the stack, the class and the code.
    if (key.startsWith('stack\n')) {
      if (this.cache.size >= FINGERPRINT_CACHE_SIZE) this.cache.clear()
      this.cache.set(stack, { constructor, code, fingerprint: key })
    }
    return key
  }

  private create (key: string, thrown: unknown, message: string, now: number): ErrorGroup {
    const name = errorClass(thrown)
    const code = errorCode(thrown) ?? null
    const stack = sampleStack(thrown, `${name}: ${message}`, this.root)
    const group = new ErrorGroup(groupId(key), key, name, code, message, this.release, stack)
    group.firstSeen = now
    return this.insert(group)
  }

  private insert (group: ErrorGroup): ErrorGroup {
    if (this.groups.size >= this.maxGroups) this.evictOldest()
    this.groups.set(group.fingerprint, group)
    return group
  }

  /** Evicts the least recently seen group (the least counted among equals). Only a new group pays this scan. */
  private evictOldest (): void {
    let oldest: ErrorGroup | undefined
    for (const group of this.groups.values()) {
      if (oldest === undefined || group.lastSeen < oldest.lastSeen || (group.lastSeen === oldest.lastSeen && group.count < oldest.count)) oldest = group
    }
    if (oldest === undefined) return
    this.groups.delete(oldest.fingerprint)
    const at = this.fresh.indexOf(oldest)
    if (at !== -1) this.fresh.splice(at, 1)
    this.evicted++
  }
}
