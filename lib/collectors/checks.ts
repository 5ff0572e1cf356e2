import { FST_SERVER_WATCH_CHECK_TIMEOUT } from '../errors.js'
import { errorText } from '../error-text.js'
import { round } from '../format.js'
import type { NormalizedCheck } from '../options.js'
import type { CheckResult } from '../schemas/health.js'
import type { Collector } from './types.js'

/**
 * Waits for `work` at most `timeoutMs`: resolves with its value or rejects with its error, or with
 * FST_SERVER_WATCH_CHECK_TIMEOUT when it takes longer. The timer is cleared either way, so nothing is left behind;
 * work that never settles is simply no longer waited for. The timer is not unref()'d: a sample that is waiting
 * keeps the process alive for at most `timeoutMs`, so `await app.serverWatch.refresh()` always settles.
 */
export function withTimeout<T> (work: Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new FST_SERVER_WATCH_CHECK_TIMEOUT(timeoutMs)), timeoutMs)
    work.then(resolve, reject).finally(() => clearTimeout(timer))
  })
}

interface CheckState {
  spec: NormalizedCheck
  result: CheckResult
  running: Promise<unknown> | null
}

const MAX_CHECK_ERROR_LENGTH = 200

/**
 * The custom checks, run together on the sampling loop. A check whose previous run has not settled (it hung past
 * its timeout) is not started again: it keeps failing until it settles, so a hanging check cannot pile up calls.
 */
export function createChecksCollector (checks: NormalizedCheck[]): Collector<Record<string, CheckResult>> {
  const states: CheckState[] = checks.map((spec) => ({
    spec,
    result: { status: 'pending', required: spec.required, durationMs: null, lastCheckedAt: null },
    running: null
  }))

  async function run (state: CheckState): Promise<void> {
    const { spec } = state
    const lastCheckedAt = new Date().toISOString()
    if (state.running !== null) {
      state.result = { status: 'fail', required: spec.required, durationMs: null, lastCheckedAt, error: `the previous run is still pending (timed out after ${spec.timeoutMs} ms)` }
      return
    }
    const started = performance.now()
    // Promise.resolve().then turns a check that throws synchronously into a rejection.
    const running = Promise.resolve().then(spec.check)
    state.running = running
    const settled = () => { if (state.running === running) state.running = null }
    running.then(settled, settled)
    try {
      await withTimeout(running, spec.timeoutMs)
      state.result = { status: 'pass', required: spec.required, durationMs: round(performance.now() - started), lastCheckedAt }
    } catch (error) {
      state.result = {
        status: 'fail',
        required: spec.required,
        durationMs: round(performance.now() - started),
        lastCheckedAt,
        error: errorText(error, MAX_CHECK_ERROR_LENGTH)
      }
    }
  }

  return {
    sample () {
      return states.length === 0 ? undefined : Promise.all(states.map(run)).then(() => {})
    },
    read () {
      const results: Record<string, CheckResult> = {}
      for (const state of states) results[state.spec.name] = state.result
      return results
    },
    close () {}
  }
}
