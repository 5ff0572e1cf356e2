import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t from 'tap'
import { PROMTOOL, promtool, samples } from '../helpers/prometheus.js'
import { everyWorker, freePort, get, health, histogramOfFiles, load, waitFor, type HealthAnswer } from '../helpers/processes.js'

// Real processes: node:cluster with 3 workers behind one port (test/fixtures/shared/cluster.mjs), the plugin from
// dist/ (npm test builds it first), load over real sockets without keep-alive so that it spreads across workers.
const CLUSTER = fileURLToPath(new URL('../fixtures/shared/cluster.mjs', import.meta.url))
const APP = 'app' // the fixture's script is app.mjs: the default app name
const WORKERS = 3

interface Cluster { child: ChildProcess, stopped: Promise<void>, stop: () => Promise<void> }

async function startCluster (port: number, dir: string): Promise<Cluster> {
  const child = spawn(process.execPath, [CLUSTER], {
    env: { ...process.env, PORT: String(port), SERVER_WATCH_DIR: dir, WORKERS: String(WORKERS), SAMPLE_INTERVAL_MS: '100', NODE_ENV: 'test' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const stopped = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  let output = ''
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  await waitFor('the cluster to listen', () => output.includes('ready') ? true : undefined)
  return {
    child,
    stopped,
    async stop () {
      if (child.exitCode === null) child.kill('SIGTERM')
      await stopped
    }
  }
}

const workPaths = (from: number, count: number) => Array.from({ length: count }, (_, i) => `/work/${from + i}`)
const pidsOf = (answer: HealthAnswer) => new Set(answer.processes.map((row) => row.pid))

t.test('node:cluster, 3 workers, one port: one merged truth across kills and a whole restart', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-cluster-'))
  const port = await freePort()
  let cluster = await startCluster(port, dir)
  t.teardown(async () => {
    await cluster.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  const first = await waitFor('3 live processes in /health', async () => {
    const answer = await health(port)
    return answer.processes.length === WORKERS ? answer : undefined
  })
  const pids = pidsOf(first)
  t.equal(pids.size, WORKERS, 'the processes table lists each worker once, by pid')

  // 300 requests (a quarter answer at once, the rest after 3, 6 or 9 ms) and 12 errors.
  const statuses = await load(port, [...workPaths(0, 300), ...Array.from({ length: 12 }, () => '/fail')])
  t.same([...statuses].sort(), [[200, 300], [500, 12]])
  let sent = 312

  const answers = await everyWorker(port, pids, (answer) => answer.totalRequests === sent)
  const { histogram, files } = histogramOfFiles(dir, APP)
  t.equal(files, WORKERS)
  t.equal(histogram.count, sent, 'the files hold every request once')
  const perWorker = [...answers.values()][0]!.processes.map((row) => row.totalRequests)
  t.ok(perWorker.filter((n) => n > 0).length >= 2, `the load spread across workers: ${perWorker.join(', ')}`)
  const expected = histogram.summary()
  for (const [pid, answer] of answers) {
    t.equal(answer.totalRequests, sent, `worker ${pid}: the fleet's total`)
    t.equal(answer.errorCount, 12, `worker ${pid}: the fleet's errors`)
    t.same(answer.responseTimeMs, { p50: expected.p50, p95: expected.p95, p99: expected.p99, max: expected.max },
      `worker ${pid}: percentiles of the merged buckets, which are the buckets of all durations`)
    t.equal(answer.averageResponseTimeMs, expected.mean)
    t.same(pidsOf(answer), pids)
  }

  // /metrics from whichever worker: the merged series, the same whichever answers.
  const metrics = await get(port, '/metrics')
  t.equal(metrics.status, 200)
  const requestsTotal = [...metrics.body.matchAll(/^http_requests_total\{[^}]*\} (\d+)$/gm)].reduce((sum, match) => sum + Number(match[1]), 0)
  t.equal(requestsTotal, sent, 'http_requests_total adds up to what was sent')
  t.match(metrics.body, new RegExp(`^server_watch_processes ${WORKERS}$`, 'm'))
  t.notMatch(metrics.body, /^process_cpu_seconds_total/m, 'no series of the answering worker alone')
  t.same([...samples(metrics.body, 'server_watch_process_resident_memory_bytes').keys()].map((labels) => Number(/pid="(\d+)"/.exec(labels)![1])).sort(), [...pids].sort(),
    'each live process\'s memory, labelled by pid')
  if (existsSync(PROMTOOL)) t.equal(promtool(metrics.body).output, '', 'promtool finds nothing to say')

  // Kill one worker without warning: cluster forks another; nothing it counted is lost or counted twice.
  const victim = [...pids][1]!
  process.kill(victim, 'SIGKILL')
  let lowest = Infinity
  const totals: number[] = []
  const afterKill = await waitFor('the killed worker to leave the table and its replacement to join', async () => {
    const answer = await health(port)
    totals.push(answer.totalRequests)
    lowest = Math.min(lowest, answer.totalRequests)
    return !pidsOf(answer).has(victim) && answer.processes.length === WORKERS && totals.length >= 20 ? answer : undefined
  })
  t.equal(lowest, sent, `the fleet's total never went down while a worker died (${totals.length} answers)`)
  t.notOk(readdirSync(dir).some((name) => name.includes(`_${victim}_`)), `the dead worker's file is gone (${readdirSync(dir).join(' ')})`)
  t.equal(readdirSync(dir).filter((name) => name.includes('~p~')).length, WORKERS, 'one file per live worker, no more')

  const statuses2 = await load(port, workPaths(300, 90))
  t.same([...statuses2], [[200, 90]])
  sent += 90
  await everyWorker(port, pidsOf(afterKill), (answer) => answer.totalRequests === sent)
  t.pass(`every worker reports ${sent} after the kill`)

  // The history the dashboard reads, before and after a restart of the whole app.
  // Whichever worker answers: the one restarted after the kill has only its own few points until the history file
  // is next written (once a minute), so ask until an older one answers.
  const before = await waitFor('a history of more than 5 points', async () => {
    const answer = JSON.parse((await get(port, '/dashboard/api/history?range=5m')).body) as { timestamps: number[] }
    return answer.timestamps.length > 5 ? answer : undefined
  })
  t.ok(before.timestamps.length > 5, `${before.timestamps.length} points before the restart`)
  await cluster.stop()
  const restartedAt = Date.now()
  cluster = await startCluster(port, dir)
  // Each worker's own samples make its history; the longest-running one keeps the file, so no worker had more.
  const after = await waitFor('the restarted app\'s history', async () => {
    const answer = JSON.parse((await get(port, '/dashboard/api/history?range=5m')).body) as { timestamps: number[] }
    return answer.timestamps.length > 0 ? answer : undefined
  })
  const earlier = after.timestamps.filter((time) => time < restartedAt)
  t.ok(earlier.length >= before.timestamps.length, `the history returns the earlier points (${earlier.length}, ${before.timestamps.length} before)`)
  t.ok(after.timestamps[0]! <= before.timestamps[0]! + 1000, 'from the start')
  const restarted = await waitFor('3 live processes after the restart', async () => {
    const answer = await health(port)
    return answer.processes.length === WORKERS && answer.totalRequests === sent ? answer : undefined
  })
  t.equal(restarted.totalRequests, sent, 'the fleet\'s counters survive a whole restart')
})
