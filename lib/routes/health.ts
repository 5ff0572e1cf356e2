import type { FastifyInstance } from 'fastify'
import { Type } from '@sinclair/typebox'
import { isAuthorized } from '../access.js'
import type { Authorize } from '../options.js'
import { HealthSnapshotSchema, HealthStatus } from '../schemas/health.js'
import type { Watch } from '../watch.js'

/** What a caller that `authorize` does not allow gets: enough for a load balancer or a probe, nothing more. */
export const HealthSummarySchema = Type.Object({
  status: HealthStatus,
  timestamp: Type.String({ format: 'date-time' })
}, { $id: 'ServerWatchHealthSummary' })

const HealthResponse = Type.Union([HealthSnapshotSchema, HealthSummarySchema])

export const statusCodeOf = (status: string) => status === 'unhealthy' ? 503 : 200

export function registerHealth (app: FastifyInstance, { watch, healthPath, authorize }: { watch: Watch, healthPath: string, authorize: Authorize }) {
  app.route({
    method: 'GET',
    url: healthPath,
    config: { serverWatch: false },
    schema: {
      response: { 200: HealthResponse, 503: HealthResponse }
    },
    async handler (request, reply) {
      reply.header('cache-control', 'no-store')
      if (await isAuthorized(authorize, request)) {
        const snapshot = watch.snapshot()
        return reply.code(statusCodeOf(snapshot.status)).send(snapshot)
      }
      const status = watch.status()
      return reply.code(statusCodeOf(status)).send({ status, timestamp: new Date().toISOString() })
    }
  })
}
