import type { FastifyBaseLogger } from 'fastify'
import { errorText } from '../error-text.js'
import type { AlertEvent } from '../schemas/alerts.js'
import type { WebhookOptions } from './rules.js'

const FIRST_RETRY_MS = 1000

/** One line a person reads in a chat: what, where, the value and the threshold. */
export function alertText (event: AlertEvent): string {
  const mark = event.type === 'resolved' ? 'RESOLVED' : event.severity === 'unhealthy' ? 'FIRING (unhealthy)' : 'FIRING (degraded)'
  return `[server-watch] ${mark} ${event.name} on ${event.hostname} (pid ${event.pid}): ${event.metric} = ${event.value ?? 'n/a'}` +
    ` (${event.direction} ${event.threshold}) at ${event.timestamp}`
}

/** Slack and Teams incoming webhooks read `text`, Discord `content`; a generic receiver gets the event too. */
export function webhookBody (event: AlertEvent, format: Required<WebhookOptions>['format']): Record<string, unknown> {
  const text = alertText(event)
  if (format === 'discord') return { content: text }
  if (format === 'slack' || format === 'teams') return { text }
  return { text, event }
}

/** What a delivery talks to and waits with: the real ones, or a test's. */
export interface WebhookIo {
  fetch: typeof fetch
  /** Resolves after `ms`; the timer must not keep the process alive. */
  sleep?: (ms: number) => Promise<void>
}

/**
 * Delivers transitions off the sampling loop: a bounded timeout per attempt, bounded retries with doubling
 * back-off, at most one delivery in flight per rule (a newer transition waits and replaces an older waiting one),
 * and one warning per run of failures. The URL is a secret: it is never logged.
 */
export function createWebhook (options: Required<WebhookOptions>, log: FastifyBaseLogger, io: WebhookIo = { fetch }) {
  const busy = new Set<string>()
  const waiting = new Map<string, AlertEvent>()
  const timers = new Set<NodeJS.Timeout>()
  const controllers = new Set<AbortController>()
  /** Rules whose last delivery failed: one warning per run of failures, per rule. */
  const failing = new Set<string>()
  let closed = false

  async function attempt (event: AlertEvent): Promise<boolean> {
    const controller = new AbortController()
    controllers.add(controller)
    const timer = setTimeout(() => controller.abort(), options.timeoutMs).unref()
    try {
      const response = await io.fetch(options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(webhookBody(event, options.format)),
        // A redirect is a failed delivery, never followed: a receiver that answers 307 to itself would otherwise
        // have the same POST sent again and again (issue 26.16: a 307 loop made 15,750 POSTs in 33 s).
        redirect: 'manual',
        signal: controller.signal
      })
      await response.body?.cancel()
      if (response.status >= 300 && response.status < 400) {
        throw new Error(`the receiver answered ${response.status} (a redirect: webhooks do not follow redirects; give the final URL)`)
      }
      if (!response.ok) throw new Error(`the receiver answered ${response.status}`)
      if (failing.delete(event.name)) log.info({ alert: event.name }, 'server-watch: the alert webhook delivers again')
      return true
    } catch (error) {
      if (!failing.has(event.name) && !closed) {
        log.warn({ alert: event.name, reason: controller.signal.aborted ? `no answer within ${options.timeoutMs} ms` : errorText(error, 200) },
          'server-watch: the alert webhook failed; retrying with back-off (further failures are not logged until it recovers)')
      }
      failing.add(event.name)
      return false
    } finally {
      clearTimeout(timer)
      controllers.delete(controller)
    }
  }

  const wait = io.sleep ?? ((ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(() => { timers.delete(timer); resolve() }, ms)
    timer.unref()
    timers.add(timer)
  }))

  async function deliver (event: AlertEvent): Promise<void> {
    busy.add(event.name)
    for (let tries = 0; tries <= options.retries; tries++) {
      if (tries > 0) await wait(FIRST_RETRY_MS * 2 ** (tries - 1))
      if (closed || await attempt(event)) break
    }
    busy.delete(event.name)
    const next = waiting.get(event.name)
    if (next !== undefined && !closed) {
      waiting.delete(event.name)
      deliver(next).catch(() => {})
    }
  }

  return {
    send (event: AlertEvent): void {
      if (closed) return
      if (busy.has(event.name)) waiting.set(event.name, event)
      else deliver(event).catch(() => {})
    },
    /** Pending retries and requests stop now. */
    close (): void {
      closed = true
      waiting.clear()
      for (const timer of timers) clearTimeout(timer)
      for (const controller of controllers) controller.abort()
    }
  }
}
