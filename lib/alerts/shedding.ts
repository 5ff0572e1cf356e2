import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { FST_SERVER_WATCH_SHEDDING } from '../errors.js'
import { sendRefusal } from '../refusal.js'
import type { RouteConfig } from '../requests/fastify-internals.js'
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

/** What the plugin's root onRequest needs to shed; read by it only when a rule has `shed: true`. */
export interface Shedding {
  /** True while a rule with `shed` fires: the one read a request pays while nothing fires. */
  readonly gate: { readonly shedding: boolean }
  /** The route may be shed: registered after the plugin and not exempt (read only while shedding). */
  sheddable (config: RouteConfig | undefined): boolean
  /** Answers a request that is shed: 503 with Retry-After, or the user's handler. */
  refuse (request: FastifyRequest, reply: FastifyReply): void
}

/**
 * Load shedding, set up only when a rule has `shed: true`. No hook of its own: the plugin's root onRequest reads
 * `gate.shedding` (one boolean while nothing fires; benchmark/README.md, "Load shedding on, not firing"). Which
 * routes may be shed is decided once per route, at registration, by a mark on its config.
 */
export function createShedding (app: FastifyInstance, engine: AlertEngine, options: NormalizedAlerts): Shedding {
  const kSheddable = Symbol('serverWatch.sheddable')
  const retryAfter = String(options.retryAfterSeconds)
  const handler = options.shedHandler
  // A new config object rather than a property on the user's, which several routes may share.
  app.addHook('onRoute', (route) => {
    if (!exempt(route)) route.config = Object.assign({}, route.config, { [kSheddable]: true })
  })
  return {
    gate: engine,
    sheddable: (config) => config?.[kSheddable] === true,
    refuse (request, reply) {
      if (handler != null) return handler(request, reply, engine.active())
      sendRefusal(reply.header('retry-after', retryAfter), new FST_SERVER_WATCH_SHEDDING(engine.shedBy))
    }
  }
}
