import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { FastifyBaseLogger } from 'fastify'
import { normalizeOptions, type ServerWatchOptions } from '../../lib/options.js'
import { createWatch, type Watch, type WatchContext } from '../../lib/watch.js'
// The date-time format the snapshot's schema uses, registered as the app helper registers it.
import './app.js'

/** A logger that keeps its warnings' messages. */
export function recordingLog (): { log: FastifyBaseLogger, warnings: string[] } {
  const warnings: string[] = []
  const log = {
    level: 'info',
    warn: (first: unknown, message?: string) => { warnings.push(typeof first === 'string' ? first : String(message)) },
    info () {},
    error () {},
    debug () {},
    trace () {},
    fatal () {},
    silent () {},
    child: () => log
  }
  return { log: log as unknown as FastifyBaseLogger, warnings }
}

/**
 * A watch built as the plugin builds it, without Fastify: the loop once an hour and never started, so that every
 * sample is one the test takes (`watch.sample()`). Closed when the test ends.
 */
export function buildWatch (
  t: { teardown (fn: () => unknown): void },
  options: ServerWatchOptions = {},
  context: Partial<WatchContext> = {}
): { watch: Watch, warnings: string[] } {
  const { log, warnings } = recordingLog()
  const watch = createWatch(normalizeOptions({ sampleIntervalMs: 3_600_000, shared: false, ...options }), {
    log, fastifyVersion: '5.0.0', countsTimeouts: false, recordObserver: null, ...context
  })
  t.teardown(() => watch.close())
  return { watch, warnings }
}

export function tempDir (t: { teardown (fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'server-watch-watch-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}
