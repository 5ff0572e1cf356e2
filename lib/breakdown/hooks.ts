import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { routeConfigReader, type RouteConfig } from '../requests/fastify-internals.js'
import { NOT_FOUND_KEY } from '../requests/endpoint.js'
import { RequestContext, type RequestStorage } from './context.js'
import { RouteBreakdown, type RouteTable } from './routes.js'

export interface BreakdownHooks {
  onRequest (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void
  /** The request's response was recorded (lib/requests/hooks.ts calls it): its context is sealed and folded. */
  settle (request: FastifyRequest): void
}

/**
 * What gives each request its context: one hook and one call from the request hooks, both only when `breakdown`
 * is on, so that with it off the request path is what it was (no AsyncLocalStorage, no branch).
 *
 * - onRequest creates the request's context and runs the rest of the chain in it (`storage.run(context, done)`,
 *   as @fastify/otel's onRequest does with `context.with`): what the chain calls synchronously, and every promise,
 *   timer or callback created there, carries it. A body that arrives after the headers is read from the
 *   connection's events, but Fastify parses it in an AsyncResource created in the chain (lib/content-type-parser.js),
 *   so the handler still runs in the request's context (test: "a body read after the hooks ran"). Not `enterWith`,
 *   which would leave the context on the connection's async resource after the response, where the hooks before
 *   ours of the next request on the connection would find it.
 * - settle, called by lib/requests/hooks.ts when it records the response (written, a streamed one to its end),
 *   seals the context and folds it into its route. Not an onResponse hook, which makes Fastify add a closure and
 *   two listeners to every response (+6.5 % instructions, benchmark/README.md). An aborted request never gets
 *   there: it is left out, as it is of the route's response times; so is a hijacked reply.
 */
export function createBreakdownHooks ({ storage, routes, now, onSealed }: {
  storage: RequestStorage
  routes: RouteTable
  now: () => number
  onSealed: (context: RequestContext, durationMs: number) => void
}): BreakdownHooks {
  const kContext = Symbol('serverWatch.breakdown.context')
  const kRoute = Symbol('serverWatch.breakdown.route')
  type Tracked = FastifyRequest & { [kContext]?: RequestContext }
  const configOf = routeConfigReader()

  /** The route's breakdown, cached on its config (per method for a route of several), or null when not counted. */
  function routeOf (request: FastifyRequest): RouteBreakdown | null {
    const config = configOf(request)
    if (config == null) return null
    const cached = config[kRoute]
    if (cached === null || cached instanceof RouteBreakdown) return cached
    return (cached as Record<string, RouteBreakdown> | undefined)?.[request.method] ?? resolve(config, request)
  }

  function resolve (config: RouteConfig, request: FastifyRequest): RouteBreakdown | null {
    // The not-found context has no url, and its config may be the user's object: not written.
    if (config.url === undefined) return routes.routeFor('*', NOT_FOUND_KEY)
    if (config.serverWatch === false) return (config[kRoute] = null)
    if (typeof config.method === 'string') return (config[kRoute] = routes.routeFor(config.method, config.url))
    const byMethod = (config[kRoute] ??= Object.create(null)) as Record<string, RouteBreakdown | null>
    return (byMethod[request.method] = routes.routeFor(request.method, config.url))
  }

  return {
    onRequest (request: Tracked, _reply, done) {
      const route = routeOf(request)
      if (route === null || request[kContext] !== undefined) return done()
      const context = new RequestContext(route, now())
      request[kContext] = context
      storage.run(context, done)
    },
    settle (request: Tracked) {
      const context = request[kContext]
      if (context !== undefined && !context.sealed) onSealed(context, context.seal(now()))
    }
  }
}
