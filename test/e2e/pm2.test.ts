import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import t from 'tap'
import { everyWorker, freePort, get, health, histogramOfFiles, load, waitFor, type HealthAnswer } from '../helpers/processes.js'

// Real PM2 as users run it (`pm2 start app -i 3`), its daemon started by this test with a private PM2_HOME and
// killed after. The app is a plain one (test/fixtures/shared/app.mjs) with SERVER_WATCH_DIR in its environment: no
// code for several processes, no primary.
const PM2 = fileURLToPath(new URL('../../node_modules/.bin/pm2', import.meta.url))
const APP = fileURLToPath(new URL('../fixtures/shared/app.mjs', import.meta.url))
const WORKERS = 3
const run = promisify(execFile)

const pidsOf = (answer: HealthAnswer) => new Set(answer.processes.map((row) => row.pid))
const workPaths = (from: number, count: number) => Array.from({ length: count }, (_, i) => `/work/${from + i}`)

t.test('PM2 cluster mode, 3 instances: merged totals, and a rolling reload loses no counts', {
  skip: existsSync(PM2) ? false : 'pm2 is not installed (npm install)',
  timeout: 180_000
}, async (t) => {
  const home = mkdtempSync(join(tmpdir(), 'sw-pm2-home-'))
  const dir = mkdtempSync(join(tmpdir(), 'sw-pm2-dir-'))
  const port = await freePort()
  const env = { ...process.env, PM2_HOME: home, PORT: String(port), SERVER_WATCH_DIR: dir, SAMPLE_INTERVAL_MS: '100', NODE_ENV: 'test' }
  const pm2 = (...args: string[]) => run(process.execPath, [PM2, ...args], { env, timeout: 60_000 })
  t.teardown(async () => {
    await pm2('kill').catch(() => {})
    rmSync(home, { recursive: true, force: true })
    rmSync(dir, { recursive: true, force: true })
  })

  await pm2('start', APP, '-i', String(WORKERS), '--name', 'sw-test', '--kill-timeout', '5000')
  const started = await waitFor('3 PM2 instances in /health', async () => {
    const answer = await health(port)
    return answer.processes.length === WORKERS ? answer : undefined
  }, 60_000)
  const pids = pidsOf(started)
  t.same(new Set(started.processes.map((row) => row.workerId)), new Set(['0', '1', '2']), 'worker ids are PM2\'s pm_id')

  const statuses = await load(port, [...workPaths(0, 150), '/fail', '/fail'])
  t.same([...statuses].sort(), [[200, 150], [500, 2]])
  let sent = 152
  const answers = await everyWorker(port, pids, (answer) => answer.totalRequests === sent)
  const { histogram } = histogramOfFiles(dir, 'app')
  const expected = histogram.summary()
  for (const [pid, answer] of answers) {
    t.equal(answer.totalRequests, sent, `instance ${pid}: the fleet's total`)
    t.same(answer.responseTimeMs, { p50: expected.p50, p95: expected.p95, p99: expected.p99, max: expected.max }, `instance ${pid}: merged percentiles`)
  }

  // A rolling restart under load: PM2 starts a new instance, then sends the old one SIGINT (the app closes, writing
  // its last figures), one at a time. Requests refused while an instance changes are not counted by anyone.
  let answered = 0
  let refused = 0
  const loading = { on: true }
  const traffic = (async () => {
    for (let i = 0; loading.on; i++) {
      try {
        const { status } = await get(port, `/work/${1000 + i}`)
        if (status === 200) answered++
      } catch {
        refused++
      }
    }
  })()
  await pm2('reload', 'sw-test')
  loading.on = false
  await traffic
  sent += answered
  t.ok(answered > 0, `${answered} requests answered during the reload (${refused} refused)`)
  const reloaded = await waitFor('3 new instances and every answered request counted', async () => {
    const answer = await health(port)
    const fresh = answer.processes.length === WORKERS && [...pidsOf(answer)].every((pid) => !pids.has(pid))
    return fresh && answer.totalRequests >= sent ? answer : undefined
  }, 30_000)
  t.ok(reloaded.totalRequests >= sent && reloaded.totalRequests <= sent + refused,
    `no count lost: ${reloaded.totalRequests} counted, ${sent} answered, ${refused} refused`)
  await everyWorker(port, pidsOf(reloaded), (answer) => answer.totalRequests === reloaded.totalRequests)
  t.pass('every new instance reports the same total')
  t.equal((await get(port, '/health/live')).status, 200)
})
