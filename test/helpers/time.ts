import { PerformanceObserver } from 'node:perf_hooks'
import FakeTimers, { type Clock } from '@sinonjs/fake-timers'

/** What the plugin's clocks are: timers, Date and performance.now(). */
export const FAKED = ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date', 'performance'] as const

/**
 * Fake timers for one test, uninstalled after it. setImmediate and nextTick stay real: Fastify, avvio and
 * light-my-request run on them, so app.inject() still answers while the clock stands still.
 */
export function fakeClock (t: { teardown (fn: () => void): void }, now = Date.UTC(2026, 10, 30, 6) - 1000): Clock {
  const clock = FakeTimers.install({ now, toFake: [...FAKED] })
  // A fake performance.now() starts at 0, which a real process never reads (and the request hooks take 0 as unset).
  clock.tick(1000)
  t.teardown(() => clock.uninstall())
  return clock
}

/** Lets pending I/O callbacks and the promises they settle run (one turn of the event loop). */
export const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

const UNTIL_LIMIT_MS = 30_000
// The real ones, taken before any test fakes them.
const realSetTimeout = globalThis.setTimeout
const realNow = Date.now

/**
 * Waits for something that real I/O brings about (a socket's close, a child's POST): checks after every few ms
 * until it holds. The limit is far beyond any machine's slowness; it is there to fail with a message, not to time.
 */
export async function until (condition: () => boolean, what: string): Promise<void> {
  const started = realNow()
  while (!condition()) {
    if (realNow() - started > UNTIL_LIMIT_MS) throw new Error(`still waiting for ${what} after ${UNTIL_LIMIT_MS} ms`)
    await new Promise((resolve) => realSetTimeout(resolve, 5))
  }
}

/** A promise the test opens when it says: a handler waits on it instead of sleeping for "long enough". */
export function gate<T = void> (): { promise: Promise<T>, open (value: T): void } {
  let open!: (value: T) => void
  const promise = new Promise<T>((resolve) => { open = resolve })
  return { promise, open }
}

/** Makes garbage until a collection has been reported to a PerformanceObserver (they are told a turn or so later). */
export async function collectGarbage (): Promise<void> {
  let collections = 0
  const observer = new PerformanceObserver((list) => { collections += list.getEntries().length })
  observer.observe({ entryTypes: ['gc'] })
  try {
    await until(() => {
      let keep: unknown[] = []
      for (let i = 0; i < 100_000; i++) keep.push({ i })
      keep = []
      return keep.length === 0 && collections > 0
    }, 'a garbage collection to be observed')
  } finally {
    observer.disconnect()
  }
}
