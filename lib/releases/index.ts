import type { EndpointCounters } from '../requests/counts.js'
import type { ApdexSnapshot, ReleasesSnapshot } from '../schemas/errors.js'
import { Directory, isMissing, RefusedFile } from '../shared/directory.js'
import { apdex } from './apdex.js'
import { ReleaseLedger, parseStoredReleases, type KeptReleases, type RouteCounts } from './ledger.js'

/**
 * Releases and Apdex for the plugin: the release running (decided at register, lib/releases/release.ts), the
 * two eras compared (lib/releases/ledger.ts), kept in the shared directory with the history as
 * `<app>~releases.json` (written by the history's writer), and the Apdex of the live counters.
 */
export const releasesFile = (app: string) => `${app}~releases.json`

export interface ReleasesOptions {
  release: string | null
  apdexThresholdMs: number
  /** Shared mode: where the eras are kept; null for one process (nothing outlives it). */
  shared: { dir: string, app: string } | null
  /** This process's own request counters: in shared mode, what of the fleet's counts is surely this release's. */
  own: RouteCounts
  log: { warn: (msg: string) => void }
  now?: () => number
}

export interface Releases {
  readonly release: string | null
  /** Each sample; the first starts the ledger from the counters as they are (in shared mode the fleet's). */
  sample (live: () => RouteCounts): void
  view (live: RouteCounts): ReleasesSnapshot
  apdex (routes: Iterable<EndpointCounters>): ApdexSnapshot
  /** By the history's writer, when it writes the history (every minute and on close). */
  persist (live: RouteCounts, now: number): void
}

export function createReleases (options: ReleasesOptions): Releases {
  const now = options.now ?? Date.now
  const { shared, log } = options
  const stored = shared === null ? null : readKept(shared, log)
  const startedAt = now()
  let ledger: ReleaseLedger | null = null
  // The fleet's counts outlive a restart: the ledger starts from them as they are at the first sample.
  const ledgerFor = (live: RouteCounts) => (ledger ??= new ReleaseLedger(options.release, startedAt, stored, shared === null ? null : live, options.own))

  return {
    release: options.release,
    sample (live) {
      if (ledger === null) ledgerFor(live())
    },
    // In shared mode, before the first sample: a ledger of the moment (the fleet's view is not read yet).
    view: (live) => (ledger ?? (shared === null ? ledgerFor(live) : new ReleaseLedger(options.release, startedAt, stored, live))).view(live),
    apdex: (routes) => apdex(routes, options.apdexThresholdMs),
    persist (live, at) {
      if (shared === null) return
      try {
        new Directory(shared.dir, shared.app).write(releasesFile(shared.app), JSON.stringify(ledgerFor(live).toJSON(live, at)))
      } catch (error) {
        log.warn(`server-watch: writing the releases in ${shared.dir} failed (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
      }
    }
  }
}

/** The eras kept in the directory; null when there are none or they cannot be used (said once in the log). */
function readKept (shared: { dir: string, app: string }, log: { warn: (msg: string) => void }): KeptReleases | null {
  let problem: string
  try {
    const kept = parseStoredReleases(JSON.parse(new Directory(shared.dir, shared.app).read(releasesFile(shared.app)).toString('utf8')))
    if (typeof kept !== 'string') return kept
    problem = kept
  } catch (error) {
    if (isMissing(error)) return null
    problem = error instanceof RefusedFile ? error.message : error instanceof SyntaxError ? 'not JSON (corrupt or truncated)' : `unreadable (${(error as NodeJS.ErrnoException).code ?? 'error'})`
  }
  log.warn(`server-watch: ignoring the releases kept in ${shared.dir}: ${problem}`)
  return null
}
