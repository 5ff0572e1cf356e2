import type { FastifyRequest } from 'fastify'

/** A route's config as Fastify builds it (`{ ...opts.config, url, method }`), with what the hooks cache on it. */
export type RouteConfig = Record<string | symbol, unknown> & { url?: string, method?: string | string[], serverWatch?: unknown }

/**
 * The one place this plugin reaches into Fastify's private state; check it first on a Fastify upgrade.
 *
 * Fastify keeps each route's context, whose `config` is the per-route object above, under a symbol it does not
 * export. One property load reaches it, where the public `request.routeOptions` builds a new object on every read:
 * chosen for speed (benchmark/README.md, "hooks.js"). Found by its description on the first request.
 */
export function findContextSymbol (request: FastifyRequest): symbol | null {
  for (const symbol of Object.getOwnPropertySymbols(request)) {
    const value = (request as unknown as Record<symbol, { config?: unknown } | undefined>)[symbol]
    if (symbol.description === 'fastify.context' && typeof value?.config === 'object' && value.config !== null) return symbol
  }
  return null
}

/**
 * A reader of a request's route config, for one set of hooks: through the private context when the installed
 * Fastify has it, else (a Fastify version that renamed it) through the public `routeOptions.config`.
 */
export function routeConfigReader (): (request: FastifyRequest) => RouteConfig | undefined {
  let kContext: symbol | null | undefined
  return function configOf (request: FastifyRequest): RouteConfig | undefined {
    if (kContext === undefined) kContext = findContextSymbol(request)
    return kContext === null
      ? request.routeOptions.config as RouteConfig | undefined
      : (request as unknown as Record<symbol, { config?: RouteConfig } | undefined>)[kContext]?.config
  }
}
