import { Session } from 'node:inspector'

let open = 0

/** Inspector sessions this module has connected and not yet disconnected: 0 when no capture runs. */
export function openSessions (): number {
  return open
}

/**
 * An in-process inspector session: it talks to this thread's V8 directly, so no debugging port is ever opened.
 * Every caller disconnects it in a `finally`, which also stops any profiler it started.
 */
export function connectSession (): InspectorSession {
  const session = new Session()
  session.connect()
  open++
  let connected = true
  return {
    session,
    post<T = unknown> (method: string, params: object = {}): Promise<T> {
      return new Promise((resolve, reject) => {
        session.post(method, params, (error, result) => error === null ? resolve(result as T) : reject(error))
      })
    },
    disconnect () {
      if (!connected) return
      connected = false
      open--
      session.disconnect()
    }
  }
}

export interface InspectorSession {
  readonly session: Session
  post<T = unknown> (method: string, params?: object): Promise<T>
  disconnect (): void
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts; leaves no timer behind. */
export function wait (ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason)
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}
