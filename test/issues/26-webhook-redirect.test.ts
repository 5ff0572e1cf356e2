// Issue 26.16: an alert webhook does not follow redirects. A real receiver that answers 307 to itself (a loop):
// one POST per attempt, not one per hop (a 307 loop made 15,750 POSTs in 33 s). A listening server: not in the
// unit tier, which test/alerts/webhook.test.ts belongs to.
import { createServer } from 'node:http'
import { Writable } from 'node:stream'
import { test } from 'tap'
import Fastify from 'fastify'
import { createWebhook } from '../../lib/alerts/webhook.js'
import { turn } from '../helpers/time.js'

test('issue 26.16: a webhook does not follow redirects: a 307 loop gets one POST per attempt, logged as a failure', async (t) => {
  let posts = 0
  const server = createServer((request, response) => {
    if (request.method === 'POST') posts++
    request.resume()
    response.writeHead(307, { location: request.url }).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const lines: string[] = []
  const log = Fastify({ logger: { level: 'info', stream: new Writable({ write (chunk, _e, done) { lines.push(String(chunk)); done() } }) } }).log
  const { port } = server.address() as { port: number }
  let delivered!: () => void
  const done = new Promise<void>((resolve) => { delivered = resolve })
  const webhook = createWebhook({ url: `http://127.0.0.1:${port}/hook`, format: 'json', timeoutMs: 5000, retries: 0 }, log, {
    fetch: (async (url: string, init: RequestInit) => {
      try { return await fetch(url, init) } finally { setImmediate(delivered) }
    }) as typeof fetch
  })
  t.teardown(() => webhook.close())
  webhook.send({
    type: 'fired', name: 'loop', metric: 'cpu.processPercent', value: 95, direction: 'above', threshold: 90, severity: 'degraded', timestamp: '2026-11-30T06:00:00.000Z', hostname: 'h', pid: 1
  })
  await done
  await turn()
  t.equal(posts, 1, 'one POST: the redirect was not followed')
  const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40)
  t.equal(warnings.length, 1)
  t.match(warnings[0].reason, /^the receiver answered 307 \(a redirect/)
})
