import type { NormalizedOptions } from '../options.js'
import { createReleases } from '../releases/index.js'
import type { RouteCounts } from '../releases/ledger.js'
import type { AnyAlertEvent, ApdexSnapshot, ErrorGroupSnapshot, ReleasesSnapshot } from '../schemas/errors.js'
import { HISTORY_WRITE_EVERY_MS } from '../shared/history-file.js'
import { createErrorGroups } from './index.js'

/**
 * The request counters the releases and Apdex read: one process's store, or the fleet's routes in shared mode,
 * given as a function since the fleet's are parsed only when read.
 */
export type LiveRoutes = () => RouteCounts

/**
 * Error groups, releases and Apdex as the watch uses them (issue 28): created once, stepped on each sample, read by
 * the snapshot, closed with the plugin. Everything the watch touches goes through here, so that its own code
 * gains one line per touch point.
 */
export function createErrorsAndReleases (
  options: Pick<NormalizedOptions, 'maxErrorGroups' | 'release' | 'apdexThresholdMs' | 'maxErrorMessageLength' | 'shared'>,
  deps: {
    /** This process's id in the shared directory (null without `shared`). */
    sharedId: string | null
    who: { hostname: string, pid: number }
    log: { warn: (msg: string) => void }
    /** Where `error.new` events go: the alerts' dispatch, or nowhere with `alerts: false`. */
    notify: (event: AnyAlertEvent) => void
    /** This process's own request counters. */
    own: RouteCounts
  }
) {
  const release = options.release.release
  const shared = options.shared === null || deps.sharedId === null ? null : { dir: options.shared.dir, app: options.shared.name }
  const groups = createErrorGroups({
    maxGroups: options.maxErrorGroups,
    release,
    maxMessageLength: options.maxErrorMessageLength,
    shared: shared === null ? null : { ...shared, id: deps.sharedId! },
    who: deps.who,
    log: deps.log
  })
  const releases = createReleases({ release, apdexThresholdMs: options.apdexThresholdMs, shared, own: deps.own, log: deps.log })
  let persistedAt = -Infinity

  return {
    /** What the request store records errors into (RequestMetrics.errorGroups). */
    groups,
    release,
    /** Each sample: the groups stepped, `error.new` sent; in shared mode by the history's writer, the files kept. */
    sample (now: number, live: LiveRoutes, isWriter: boolean): void {
      for (const event of groups.sample(now)) deps.notify(event)
      releases.sample(live)
      if (isWriter && now - persistedAt >= HISTORY_WRITE_EVERY_MS) {
        persistedAt = now
        groups.persist(now)
        releases.persist(live(), now)
      }
    },
    errorGroups: (now: number): ErrorGroupSnapshot[] => groups.view(now),
    releases: (live: LiveRoutes): ReleasesSnapshot => releases.view(live()),
    apdex: (live: LiveRoutes): ApdexSnapshot => releases.apdex(live().allEndpoints()),
    /** Closing: this process's groups into its file; the eras too when this process writes the history. */
    close (now: number, live: LiveRoutes, isWriter: boolean): void {
      groups.close(now)
      if (isWriter) releases.persist(live(), now)
    }
  }
}

export type ErrorsAndReleases = ReturnType<typeof createErrorsAndReleases>
