import { hostname } from 'node:os'
import type { NormalizedOptions } from '../options.js'
import { createReleases } from '../releases/index.js'
import type { RouteCounts } from '../releases/ledger.js'
import type { AnyAlertEvent, ApdexSnapshot, ErrorGroupSnapshot, ReleasesSnapshot } from '../schemas/errors.js'
import { formatId } from '../shared/names.js'
import { HISTORY_WRITE_EVERY_MS } from '../shared/history-file.js'
import type { Fleet } from '../watch/fleet.js'
import { createErrorGroups } from './index.js'
import type { ErrorGroupStore } from './store.js'

/** Plugins of issue 28 created by this process so far. */
let incarnations = 0

/**
 * Error groups, releases and Apdex as the watch uses them (issue 28): created once, stepped on each sample, read by
 * the read model, closed with the plugin. Everything the watch touches goes through here, so that its own code
 * gains one line per touch point.
 */
export function createErrorsAndReleases (
  options: Pick<NormalizedOptions, 'maxErrorGroups' | 'release' | 'apdexThresholdMs' | 'maxErrorMessageLength' | 'shared'>,
  deps: {
    /** This process's own request counters (lib/requests/store.ts). */
    own: RouteCounts
    /** The fleet (lib/watch/fleet.ts): its view in shared mode, null with one process. */
    fleet: Pick<Fleet, 'view' | 'keepsFiles'>
    startedAt: number
    log: { warn: (msg: string) => void }
    /** Where `error.new` events go: the alerts' dispatch, or nowhere with `alerts: false`. */
    notify: (event: AnyAlertEvent) => void
  }
) {
  const release = options.release.release
  const who = { hostname: hostname(), pid: process.pid }
  const shared = options.shared === null ? null : { dir: options.shared.dir, app: options.shared.name }
  const groups = createErrorGroups({
    maxGroups: options.maxErrorGroups,
    release,
    maxMessageLength: options.maxErrorMessageLength,
    // This incarnation's own file name: its host, pid, start and, for two plugins started in one millisecond by one
    // process (tests do), a count (lib/shared/names.ts's id format).
    shared: shared === null ? null : { ...shared, id: formatId({ host: who.hostname, pid: who.pid, startedAt: deps.startedAt, generation: incarnations++ }) },
    who,
    log: deps.log
  })
  const releases = createReleases({ release, apdexThresholdMs: options.apdexThresholdMs, shared, own: deps.own, log: deps.log })
  /** The routes the releases and Apdex read: the fleet's in shared mode (parsed only when called), else this process's. */
  const live = (): RouteCounts => deps.fleet.view()?.requests ?? deps.own
  /** Whether this process keeps the files that outlive it: the fleet's one writer (lib/watch/fleet.ts). */
  const isWriter = (): boolean => deps.fleet.keepsFiles()
  let persistedAt = -Infinity

  return {
    /** What the request store records errors into (RequestMetrics.errorGroups). */
    groups,
    release,
    /** Each sample: the groups stepped, `error.new` sent; in shared mode by the history's writer, the files kept. */
    sample (now: number): void {
      for (const event of groups.sample(now)) deps.notify(event)
      releases.sample(live)
      if (shared === null || !isWriter()) return
      // The groups of processes gone are folded on every sample (a listing, and work only when one went); the
      // releases' eras, larger, on the history's cadence.
      groups.persist(now)
      if (now - persistedAt >= HISTORY_WRITE_EVERY_MS) {
        persistedAt = now
        releases.persist(live(), now)
      }
    },
    errorGroups: (now: number): ErrorGroupSnapshot[] => groups.view(now),
    /** The groups as a store (the fleet's in shared mode): what /metrics and rules on a group read. */
    store: (): ErrorGroupStore => groups.store(),
    releases: (): ReleasesSnapshot => releases.view(live()),
    apdex: (): ApdexSnapshot => releases.apdex(live().allEndpoints()),
    /** Closing: this process's groups into its file; the eras too when this process writes the history. */
    close (now: number): void {
      groups.close(now)
      if (shared !== null && isWriter()) releases.persist(live(), now)
    }
  }
}

export type ErrorsAndReleases = ReturnType<typeof createErrorsAndReleases>
