import type { FastifyInstance, FastifyReply } from 'fastify'
import { Type } from '@sinclair/typebox'
import type { Access } from '../access/index.js'
import { HEALTH_JSON_STATUS, toHealthJson } from '../health-json/mapping.js'
import { HEALTH_JSON, prefersHealthJson } from '../health-json/negotiation.js'
import { HealthJsonSchema } from '../schemas/health-json.js'
import { HealthSnapshotSchema, HealthStatus } from '../schemas/health.js'
import type { Watch } from '../watch.js'
import { documented } from './openapi.js'

/** What a caller that `authorize` does not allow gets: enough for a load balancer or a probe, nothing more. */
export const HealthSummarySchema = Type.Object({
  status: HealthStatus,
  timestamp: Type.String({ format: 'date-time' })
}, { $id: 'ServerWatchHealthSummary' })

const HealthResponse = Type.Union([HealthSnapshotSchema, HealthSummarySchema])

/** Plain JSON or the draft's health+json, chosen by `Accept`. */
const negotiated = {
  content: {
    'application/json': { schema: HealthResponse },
    [HEALTH_JSON]: { schema: HealthJsonSchema }
  }
}
const probeResponse = {
  content: {
    'application/json': { schema: HealthJsonSchema },
    [HEALTH_JSON]: { schema: HealthJsonSchema }
  }
}

export const statusCodeOf = (status: string) => status === 'unhealthy' ? 503 : 200
const stringify = (data: unknown): string => JSON.stringify(data)

export interface HealthOptions {
  watch: Pick<Watch, 'snapshot' | 'status' | 'ownStatus' | 'sampledAt'>
  healthPath: string
  access: Pick<Access, 'allows'>
}

/**
 * `GET {healthPath}` (details for authorised callers, the status alone for others), `{healthPath}/live` and
 * `{healthPath}/ready`; HEAD on each answers the same status code without a body, whatever `exposeHeadRoutes`.
 */
export function registerHealth (app: FastifyInstance, { watch, healthPath, access }: HealthOptions) {
  // The schemas document the contract (the tests check the snapshot against them); every body is built here, so all
  // three routes serialise with JSON.stringify and compile no schema: compiling them cost the first /health and
  // slowed the app's own routes (benchmark/README.md, "What in the /health routes tipped it").
  const common = { exposeHeadRoute: true, config: { serverWatch: false }, serializerCompiler: () => stringify }
  const sendJson = (reply: FastifyReply, body: object) => reply.type('application/json; charset=utf-8').send(body)
  // The same URL answers two media types, and the details depend on who asks: never cached, varies on Accept.
  const noStore = (reply: FastifyReply, healthJson: boolean) => {
    reply.header('cache-control', 'no-store').header('vary', 'Accept')
    if (healthJson) reply.type(HEALTH_JSON)
  }

  app.route({
    ...common,
    method: 'GET',
    url: healthPath,
    schema: {
      ...documented('The server\'s health', 'healthy, degraded or unhealthy (503), with the checks, the database and the figures for callers that authorize allows (the status alone for others); application/health+json by Accept.'),
      response: { 200: negotiated, 503: negotiated }
    },
    async handler (request, reply) {
      const healthJson = prefersHealthJson(request.headers.accept)
      noStore(reply, healthJson)
      if (await access.allows(request)) {
        const snapshot = watch.snapshot()
        reply.code(statusCodeOf(snapshot.status))
        if (healthJson) return toHealthJson(snapshot, watch.sampledAt())
        return sendJson(reply, snapshot)
      }
      const status = watch.status()
      reply.code(statusCodeOf(status))
      if (healthJson) return { status: HEALTH_JSON_STATUS[status] }
      return sendJson(reply, { status, timestamp: new Date().toISOString() })
    }
  })

  const base = healthPath === '/' ? '' : healthPath

  // Liveness: the process answers. No authorisation and no details: a probe that fails here restarts the process.
  app.route({
    ...common,
    method: 'GET',
    url: `${base}/live`,
    schema: {
      ...documented('Liveness probe', 'The process answers: always pass. No authorisation, no details.'),
      response: { 200: probeResponse }
    },
    handler (request, reply) {
      noStore(reply, prefersHealthJson(request.headers.accept))
      reply.send({ status: 'pass' })
    }
  })

  // Readiness (its state is the watch's): the first sample has completed and no required check or required database of
  // this process fails (in shared mode, whatever the other processes' status). Degraded is
  // ready (200, warn): an optional dependency down is no reason to take the instance out of the load balancer.
  app.route({
    ...common,
    method: 'GET',
    url: `${base}/ready`,
    schema: {
      ...documented('Readiness probe', 'fail (503) until the first sample, or while a required check or database of this process fails; pass or warn (200) otherwise.'),
      response: { 200: probeResponse, 503: probeResponse }
    },
    handler (request, reply) {
      noStore(reply, prefersHealthJson(request.headers.accept))
      const status = watch.sampledAt() === null ? 'fail' : HEALTH_JSON_STATUS[watch.ownStatus()]
      reply.code(status === 'fail' ? 503 : 200).send({ status })
    }
  })
}
