// Issue 26.15: the demo (example/server.js) stops on SIGTERM or SIGINT well within PM2's default kill_timeout
// (1.6 s), even while its own keep-alive traffic flows, a dashboard stream is open and a slow request is in flight.
// Needs `npm run build`: the demo imports the package by name.
import { spawn } from 'node:child_process'
import http from 'node:http'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import { until } from '../helpers/time.js'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
// A bound on a liveness failure (a demo that never exits), not a speed assertion: far above any machine's slowness.
const EXIT_BOUND_MS = 10_000

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`issue 26.15: the demo exits with code 0 on ${signal} while its traffic flows`, async (t) => {
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'fatal' }
    for (const name of ['NODE_ENV', 'SERVER_WATCH_TOKEN', 'SERVER_WATCH_DIR', 'MONGODB_URI', 'DEMO_TRAFFIC']) delete env[name]
    const demo = spawn(process.execPath, [join(root, 'example', 'server.js')], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    demo.stdout.on('data', (chunk: Buffer) => { stdout += String(chunk) })
    demo.stderr.on('data', (chunk: Buffer) => { stderr += String(chunk) })
    const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>((resolve) => {
      demo.once('exit', (code, signal) => resolve({ code, signal }))
    })
    t.teardown(() => { if (demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL') })
    await until(() => /Demo app on http:\/\/127\.0\.0\.1:\d+/.test(stdout) || demo.exitCode !== null, 'the demo to listen')
    const port = Number(/Demo app on http:\/\/127\.0\.0\.1:(\d+)/.exec(stdout)?.[1])
    t.ok(port > 0, `listening on ${port}${stderr === '' ? '' : `; stderr: ${stderr}`}`)

    // A browser of our own: keep-alive connections, one of them holding the dashboard's live stream.
    const agent = new http.Agent({ keepAlive: true })
    t.teardown(() => agent.destroy())
    const get = (path: string) => new Promise<{ status: number, body: string }>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path, agent, headers: { host: 'localhost' } }, (response) => {
        let body = ''
        response.on('data', (chunk: Buffer) => { body += String(chunk) })
        response.on('end', () => resolve({ status: response.statusCode!, body }))
        response.on('error', reject)
      }).on('error', reject)
    })
    let streamed = ''
    http.get({ host: '127.0.0.1', port, path: '/dashboard/api/stream', agent, headers: { host: 'localhost' } }, (response) => {
      response.on('data', (chunk: Buffer) => { streamed += String(chunk) })
      response.on('error', () => {})
    }).on('error', () => {})
    // The demo's own traffic is flowing: its requests are counted.
    let counted = 0
    let asking = false
    await until(() => {
      if (!asking) {
        asking = true
        get('/health').then(({ body }) => { counted = (JSON.parse(body) as { application: { totalRequests: number } }).application.totalRequests }, () => {})
          .finally(() => { asking = false })
      }
      return counted >= 10
    }, 'the demo\'s own traffic to be served')
    await until(() => streamed.includes('event: sample'), 'the live stream to send a frame')
    const slow = get('/api/reports/slow').catch(() => null)

    demo.kill(signal)
    const bound = new Promise<never>((_resolve, reject) => {
      setTimeout(() => reject(new Error(`the demo did not exit within ${EXIT_BOUND_MS} ms of ${signal}`)), EXIT_BOUND_MS).unref()
    })
    const { code, signal: killedBy } = await Promise.race([exited, bound])
    t.equal(code, 0, `exit code 0${stderr === '' ? '' : `; stderr: ${stderr}`}`)
    t.equal(killedBy, null)
    const closedIn = /Demo app closed in (\d+) ms \((SIG\w+)\)/.exec(stdout)
    t.equal(closedIn?.[2], signal, 'it says it closed, and on which signal')
    t.comment(`closed in ${closedIn?.[1]} ms after ${signal}`)
    await slow
  })
}
