/**
 * How the plugin's routes show in the app's OpenAPI document (@fastify/swagger, or anything that reads
 * `schema.hide` and `schema.tags`). The public routes (`/health`, `/health/live`, `/health/ready`, `/metrics`) say so
 * in their own definitions with `documented(...)`; every other route of the plugin (the page, its files, its API,
 * the profiles) is hidden, as @fastify/swagger-ui hides its own. `openapi: false` hides them all.
 *
 * @fastify/swagger collects routes as they are added: it must be registered before this plugin for the public
 * routes to be listed (the internal ones stay out in either order).
 */
import type { onRouteHookHandler } from 'fastify'

/** The one tag every documented route of the plugin carries. */
export const OPENAPI_TAG = 'server-watch'

/** The schema keys that document a public route: its tag, a summary and a description. */
export function documented (summary: string, description: string): { tags: string[], summary: string, description: string } {
  return { tags: [OPENAPI_TAG], summary, description }
}

/**
 * An `onRoute` hook for the plugin's own context: a route that is not `documented(...)`, or every route when
 * `openapi` is false, gets `schema.hide`. It sets the schema object before Fastify compiles it, and a
 * @fastify/swagger registered earlier keeps the route options it saw, so it reads the hidden schema too.
 */
export function hideUndocumented (openapi: boolean): onRouteHookHandler {
  return (route) => {
    const schema = route.schema ?? {}
    const tags = (schema as { tags?: unknown }).tags
    if (!openapi || !Array.isArray(tags) || !tags.includes(OPENAPI_TAG)) route.schema = { ...schema, hide: true } as typeof schema
  }
}
