// Issue 19: the alert webhook's bodies and delivery (lib/alerts/webhook.ts), with fetch and the back-off injected.
import { Writable } from 'node:stream'
import { test } from 'tap'
import Fastify from 'fastify'
import { webhookFormat } from '../../lib/alerts/rules.js'
import { alertText, createWebhook, webhookBody } from '../../lib/alerts/webhook.js'
import type { AlertEvent } from '../../lib/plugin.js'
import { turn } from '../helpers/time.js'

test('webhook formats: chosen from the URL, with bodies Slack, Discord, Teams and generic receivers accept', async (t) => {
  t.equal(webhookFormat(new URL('https://hooks.slack.com/services/a/b/c')), 'slack')
  t.equal(webhookFormat(new URL('https://discord.com/api/webhooks/1/x')), 'discord')
  t.equal(webhookFormat(new URL('https://acme.webhook.office.com/webhookb2/x')), 'teams')
  t.equal(webhookFormat(new URL('https://prod-1.westeurope.logic.azure.com/workflows/x')), 'teams')
  t.equal(webhookFormat(new URL('https://alerts.example.com/hook')), 'json')
  const event: AlertEvent = {
    type: 'fired',
    name: 'slow-loop',
    metric: 'eventLoop.delayMs.p99',
    value: 812,
    direction: 'above',
    threshold: 500,
    severity: 'unhealthy',
    timestamp: '2026-11-30T06:00:00.000Z',
    hostname: 'web-1',
    pid: 42
  }
  const text = '[server-watch] FIRING (unhealthy) slow-loop on web-1 (pid 42): eventLoop.delayMs.p99 = 812 (above 500) at 2026-11-30T06:00:00.000Z'
  t.equal(alertText(event), text)
  t.same(webhookBody(event, 'slack'), { text })
  t.same(webhookBody(event, 'teams'), { text })
  t.same(webhookBody(event, 'discord'), { content: text })
  t.same(webhookBody(event, 'json'), { text, event })
  t.match(alertText({ ...event, type: 'resolved' }), /^\[server-watch\] RESOLVED slow-loop/)
})

test('webhook delivery: bounded retries with doubling back-off, one in flight per rule, one warning per run of failures', async (t) => {
  const lines: string[] = []
  const log = Fastify({ logger: { level: 'info', stream: new Writable({ write (chunk, _e, done) { lines.push(String(chunk)); done() } }) } }).log
  const event = (name: string, type: AlertEvent['type'] = 'fired'): AlertEvent => ({
    type, name, metric: 'cpu.processPercent', value: 95, direction: 'above', threshold: 90, severity: 'degraded', timestamp: '2026-11-30T06:00:00.000Z', hostname: 'h', pid: 1
  })
  const calls: string[] = []
  const sleeps: number[] = []
  let answer = 500
  let release: (() => void) | null = null
  const webhook = createWebhook({ url: 'https://hooks.example/x', format: 'json', timeoutMs: 1000, retries: 3 }, log, {
    fetch: (async (_url: string, init: RequestInit) => {
      const body = JSON.parse(String(init.body))
      calls.push(`${body.event.type} ${body.event.name}`)
      if (release === null && body.event.name === 'held') await new Promise<void>((resolve) => { release = resolve })
      return new Response(null, { status: answer })
    }) as typeof fetch,
    sleep: async (ms) => { sleeps.push(ms) }
  })
  webhook.send(event('down'))
  await new Promise((resolve) => setImmediate(resolve))
  await turn()
  t.same(calls, ['fired down', 'fired down', 'fired down', 'fired down'], 'the first try and three retries')
  t.same(sleeps, [1000, 2000, 4000], 'doubling back-off')
  const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40)
  t.equal(warnings.length, 1, 'one warning for the run of failures')
  t.match(warnings[0], { alert: 'down', reason: 'the receiver answered 500' })
  t.notOk(lines.join('').includes('hooks.example'), 'the URL is never logged')

  calls.length = 0
  answer = 200
  webhook.send(event('held'))
  webhook.send(event('held', 'resolved'))
  webhook.send(event('held', 'fired'))
  await turn()
  t.same(calls, ['fired held'], 'one in flight per rule; the others wait')
  release!()
  await turn()
  t.same(calls, ['fired held', 'fired held'], 'then only the newest waiting transition is sent')
  t.notOk(lines.some((line) => line.includes('delivers again')), 'a rule that never failed does not "recover"')
  webhook.send(event('down', 'resolved'))
  await turn()
  t.match(lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 30), [{ alert: 'down', msg: 'server-watch: the alert webhook delivers again' }])
  webhook.close()
})

test('issue 26.16: a 3xx answer is a failed delivery, and fetch is told not to follow redirects', async (t) => {
  const lines: string[] = []
  const log = Fastify({ logger: { level: 'info', stream: new Writable({ write (chunk, _e, done) { lines.push(String(chunk)); done() } }) } }).log
  const redirects: Array<RequestRedirect | undefined> = []
  const webhook = createWebhook({ url: 'https://hooks.example/x', format: 'json', timeoutMs: 1000, retries: 1 }, log, {
    fetch: (async (_url: string, init: RequestInit) => {
      redirects.push(init.redirect)
      return new Response(null, { status: 307, headers: { location: 'https://hooks.example/x' } })
    }) as typeof fetch,
    sleep: async () => {}
  })
  webhook.send({
    type: 'fired', name: 'moved', metric: 'cpu.processPercent', value: 95, direction: 'above', threshold: 90, severity: 'degraded', timestamp: '2026-11-30T06:00:00.000Z', hostname: 'h', pid: 1
  })
  await turn()
  await turn()
  t.same(redirects, ['manual', 'manual'], 'the first try and one retry, neither following the redirect')
  const warnings = lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 40)
  t.equal(warnings.length, 1)
  t.equal(warnings[0].reason, 'the receiver answered 307 (a redirect: webhooks do not follow redirects; give the final URL)')
  webhook.close()
})
