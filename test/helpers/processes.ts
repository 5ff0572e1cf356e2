import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'
import { createServer } from 'node:net'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Histogram } from '../../lib/histogram.js'
import { decodeState } from '../../lib/shared/state.js'

/** A port free now (the servers under test are other processes: they cannot listen on 0 and tell us). */
export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

export interface Answer { status: number, headers: IncomingHttpHeaders, body: string }

/**
 * One request on a connection of its own (no keep-alive), so that node:cluster and PM2 spread requests across
 * workers. Rejects on a connection error: the caller decides whether that counts.
 */
export function get (port: number, path: string, timeoutMs = 10_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      res.on('error', reject)
    })
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)))
    req.on('error', reject)
    req.end()
  })
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs` with the last reason. */
export async function waitFor<T> (what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** Sends `paths` with at most `concurrency` in flight; returns how many got each status. */
export async function load (port: number, paths: readonly string[], concurrency = 8): Promise<Map<number, number>> {
  const statuses = new Map<number, number>()
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < paths.length) {
      const path = paths[next++]!
      const { status } = await get(port, path)
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }
  }))
  return statuses
}

export interface HealthAnswer {
  pid: number
  totalRequests: number
  errorCount: number
  responseTimeMs: { p50: number | null, p95: number | null, p99: number | null, max: number | null }
  averageResponseTimeMs: number | null
  processes: Array<{ pid: number, workerId: string | null, totalRequests: number, status: string }>
}

export async function health (port: number): Promise<HealthAnswer> {
  const { status, body } = await get(port, '/health')
  if (status !== 200) throw new Error(`/health answered ${status}: ${body.slice(0, 200)}`)
  const snapshot = JSON.parse(body)
  return {
    pid: snapshot.instance.pid,
    totalRequests: snapshot.application.totalRequests,
    errorCount: snapshot.application.errorCount,
    responseTimeMs: snapshot.application.responseTimeMs,
    averageResponseTimeMs: snapshot.application.averageResponseTimeMs,
    processes: snapshot.processes
  }
}

/**
 * Asks /health until every one of `pids` has answered with a snapshot that `accept` takes; returns the answers by
 * pid. Each process is reached by luck of the balancer, so this polls until all have been heard.
 */
export async function everyWorker (port: number, pids: ReadonlySet<number>, accept: (answer: HealthAnswer) => boolean, onAnswer?: (answer: HealthAnswer) => void): Promise<Map<number, HealthAnswer>> {
  const answers = new Map<number, HealthAnswer>()
  return waitFor(`an accepted /health from each of ${[...pids].join(', ')}`, async () => {
    const answer = await health(port)
    onAnswer?.(answer)
    if (pids.has(answer.pid) && accept(answer)) answers.set(answer.pid, answer)
    else answers.delete(answer.pid)
    return answers.size === pids.size ? answers : undefined
  }, 30_000, 10)
}

/** The all-routes histogram of every process file in the directory, added bucket by bucket. */
export function histogramOfFiles (dir: string, app: string): { histogram: Histogram, files: number } {
  const histogram = new Histogram()
  let files = 0
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(`${app}~p~`)) continue
    const decoded = decodeState(readFileSync(join(dir, name), 'utf8'), app)
    if (!decoded.ok) throw new Error(`${name}: ${decoded.reason}`)
    histogram.add(decoded.counts.histogram)
    files++
  }
  return { histogram, files }
}
