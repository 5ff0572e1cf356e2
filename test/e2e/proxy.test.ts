// Issue 14: the detailed views stay closed through a real reverse proxy on the same host (nginx), whatever the
// client sends, and open with a token.
import { get } from 'node:http'
import { test, type Test } from 'tap'
import Fastify, { type FastifyServerOptions } from 'fastify'
import serverWatch, { type ServerWatchOptions } from '../../lib/plugin.js'
import { nginxMissing, startNginx } from '../helpers/nginx.js'

const DETAILED = ['/metrics', '/dashboard', '/dashboard/', '/dashboard/api/snapshot', '/dashboard/api/history?range=1h', '/dashboard/api/stream', '/dashboard/static/app.js']
const TOKEN = 'proxy-test-token-0123456789'
const missing = nginxMissing()

async function proxied (t: Test, options: ServerWatchOptions = {}, fastifyOptions: FastifyServerOptions = {}) {
  const app = Fastify(fastifyOptions)
  await app.register(serverWatch, { sampleIntervalMs: 100, ...options })
  app.get('/hello', async () => ({ hello: 'world' }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  await app.serverWatch.refresh()
  const proxy = await startNginx((app.server.address() as { port: number }).port)
  t.teardown(async () => { await proxy.close(); await app.close() })
  return { app, proxy, direct: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` }
}

/** The status code of GET `url` (node:http, which unlike fetch lets a test set Host); a stream's body is not read. */
function statusOf (url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = get(url, { headers }, (response) => {
      resolve(response.statusCode!)
      response.destroy()
    })
    request.once('error', reject)
    request.setTimeout(10_000, () => request.destroy(new Error(`no answer from ${url}`)))
  })
}

test('through nginx on the same host', { skip: missing ?? false }, async (t) => {
  t.test('the default closes every detailed view, spoofed X-Forwarded-For included; /health gives the status alone', async (t) => {
    for (const fastifyOptions of [{}, { trustProxy: true }, { trustProxy: '127.0.0.1' }]) {
      const { proxy, direct } = await proxied(t, {}, fastifyOptions)
      const label = JSON.stringify(fastifyOptions)
      for (const headers of <Array<Record<string, string>>>[{}, { 'x-forwarded-for': '127.0.0.1' }, { 'x-real-ip': '127.0.0.1' }, { forwarded: 'for=127.0.0.1' }]) {
        for (const url of DETAILED) {
          t.equal(await statusOf(proxy.origin + url, headers), 403, `${label} proxy ${url} ${JSON.stringify(headers)}`)
        }
      }
      const health = await fetch(`${proxy.origin}/health`, { headers: { 'x-forwarded-for': '127.0.0.1' } })
      t.equal(health.status, 200)
      t.same(Object.keys(await health.json()).sort(), ['status', 'timestamp'], `${label} /health through the proxy: the status alone`)
      t.equal(await statusOf(`${proxy.origin}/health/ready`), 200)
      t.equal(await statusOf(`${proxy.origin}/hello`), 200, 'the app itself is reachable')
      // The same requests made directly on the host are let in: the proxy is what closes them.
      for (const url of DETAILED) t.equal(await statusOf(direct + url), 200, `${label} direct ${url}`)
      t.equal(await statusOf(`${direct}/metrics`, { host: 'evil.example' }), 403, 'a foreign Host directly on loopback')
    }
  })

  t.test('a token opens every view through the proxy, as Bearer and as Basic', async (t) => {
    const { proxy, direct } = await proxied(t, { token: TOKEN }, { trustProxy: '127.0.0.1' })
    for (const authorization of [`Bearer ${TOKEN}`, `Basic ${Buffer.from(`ops:${TOKEN}`).toString('base64')}`]) {
      for (const url of DETAILED) t.equal(await statusOf(proxy.origin + url, { authorization }), 200, `${url} ${authorization.split(' ')[0]}`)
      const health = await fetch(`${proxy.origin}/health`, { headers: { authorization } })
      t.ok('application' in await health.json(), '/health details')
    }
    const refused = await fetch(`${proxy.origin}/dashboard`)
    t.equal(refused.status, 401)
    t.equal(refused.headers.get('www-authenticate'), 'Basic realm="server-watch", charset="UTF-8"')
    t.equal(await statusOf(`${proxy.origin}/metrics`, { authorization: 'Bearer wrong-token-0123456789' }), 401)
    // Issue 30.4: once a token is set, it is what opens the views, directly on the host too (no local rule left
    // for a same-host proxy to slip through).
    for (const url of DETAILED) t.equal(await statusOf(direct + url), 401, `direct without the token: ${url}`)
    t.equal(await statusOf(`${direct}/metrics`, { authorization: `Bearer ${TOKEN}` }), 200)
  })
})
