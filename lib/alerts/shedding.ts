import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions } from 'fastify'
import { FST_SERVER_WATCH_SHEDDING, sendRefusal } from '../errors.js'
import type { AlertEngine } from './engine.js'
import type { NormalizedAlerts } from './rules.js'

/**
 * Routes that are never shed: the plugin's own (probes, dashboard, metrics), routes not counted
 * (`config: { serverWatch: false }`) and routes that opt out (`config: { serverWatch: { shed: false } }`).
 */
function exempt (route: RouteOptions): boolean {
  const setting = (route.config as { serverWatch?: unknown } | undefined)?.serverWatch
  return setting === false || (typeof setting === 'object' && setting !== null && (setting as { shed?: unknown }).shed === false)
}

/**
 * Load shedding, added only when a rule has `shed: true`: a route-level onRequest hook on every route registered
 * after the plugin that is not exempt, whose cost while nothing fires is one boolean read. Route-level rather than
 * root, so that exempt routes pay nothing and the choice is made once per route, not per request.
 */
export function addShedding (app: FastifyInstance, engine: AlertEngine, options: NormalizedAlerts, forget: (request: FastifyRequest) => void): void {
  const retryAfter = String(options.retryAfterSeconds)
  const handler = options.shedHandler
  function shed (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    if (!engine.shedding) return done()
    forget(request)
    if (handler != null) return handler(request, reply, engine.active())
    sendRefusal(reply.header('retry-after', retryAfter), new FST_SERVER_WATCH_SHEDDING(engine.shedBy))
  }
  app.addHook('onRoute', (route) => {
    if (exempt(route)) return
    const own = route.onRequest
    route.onRequest = own === undefined ? [shed] : [shed, ...(Array.isArray(own) ? own : [own])]
  })
}
