import type { ErrorGroupSnapshot, ErrorNewEvent } from '../schemas/errors.js'
import { SharedErrorGroups } from './shared.js'
import { minuteOf } from './series.js'
import { ErrorGroupStore } from './store.js'

/**
 * Error groups for the plugin: what the request path records into (`record`, for errors only), what the sampling
 * loop steps (`sample`: the shared directory, the `error.new` events for the alerts) and what the views read. With
 * `maxErrorGroups: 0` it is NO_ERROR_GROUPS, which does nothing: the feature adds no cost when off.
 */
export interface ErrorGroups {
  readonly enabled: boolean
  /** An error that reached Fastify's error handling on `route` (a `METHOD /pattern` key), answered with `statusCode`. */
  record (error: unknown, route: string, statusCode: number): void
  /** Each sample: this process's groups to the shared directory, the fleet's merged; returns the `error.new` events. */
  sample (now: number): ErrorNewEvent[]
  /** `application.errorGroups`: most recently seen first (the fleet's in shared mode). */
  view (now: number): ErrorGroupSnapshot[]
  /** The groups as a store (the fleet's in shared mode): what /metrics reads. */
  store (): ErrorGroupStore
  /** By the history's writer, when it writes the history: folds the files of processes gone. */
  persist (now: number): void
  /** On close: this process's last groups into its file. */
  close (now: number): void
}

export interface ErrorGroupsOptions {
  maxGroups: number
  release: string | null
  maxMessageLength: number
  /** Shared mode: the directory, the app's name in it and this process's id; null for one process. */
  shared: { dir: string, app: string, id: string } | null
  who: { hostname: string, pid: number }
  log: { warn: (msg: string) => void }
}

const EMPTY = new ErrorGroupStore({ maxGroups: 0 })

export const NO_ERROR_GROUPS: ErrorGroups = {
  enabled: false,
  record () {},
  sample: () => [],
  view: () => [],
  store: () => EMPTY,
  persist () {},
  close () {}
}

export function createErrorGroups (options: ErrorGroupsOptions): ErrorGroups {
  if (options.maxGroups === 0) return NO_ERROR_GROUPS
  const own = new ErrorGroupStore({ maxGroups: options.maxGroups, release: options.release, maxMessageLength: options.maxMessageLength })
  const shared = options.shared === null ? null : new SharedErrorGroups({ ...options.shared, own, log: options.log })
  let fleet: ErrorGroupStore = own

  function event (group: ErrorGroupSnapshot, now: number): ErrorNewEvent {
    return { type: 'error.new', name: `error.new ${group.id}`, group, release: options.release, timestamp: new Date(now).toISOString(), ...options.who }
  }

  /** The directory may fail (removed, read-only): the groups then are this process's own until it is back. */
  function guarded (what: string, step: () => void): void {
    try {
      step()
    } catch (error) {
      options.log.warn(`server-watch: error groups: ${what} failed (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
    }
  }

  return {
    enabled: true,
    record (error, route, statusCode) {
      own.record(error, route, statusCode)
    },
    sample (now) {
      if (shared !== null) {
        guarded('writing', () => shared.write(now))
        fleet = own
        guarded('reading', () => { fleet = shared.read(options.maxGroups) })
      }
      const fresh = own.takeNew(shared === null ? undefined : (group) => shared.alertedElsewhere(group.fingerprint))
      return fresh.map((group) => event(group.view(minuteOf(now)), now))
    },
    view: (now) => fleet.view(now),
    store: () => fleet,
    persist (now) {
      if (shared !== null) guarded('folding', () => shared.retire(now, options.maxGroups))
    },
    close (now) {
      if (shared !== null) guarded('writing', () => shared.write(now, true))
    }
  }
}
