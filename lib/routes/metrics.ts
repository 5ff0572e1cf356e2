import type { FastifyInstance } from 'fastify'
import type { Access } from '../access/index.js'
import { PROMETHEUS_CONTENT_TYPE, encodeMetrics } from '../prometheus/index.js'
import type { MetricsRead } from '../prometheus/read.js'
import { NO_RELABELING, type NormalizedPrometheus } from '../prometheus/relabel.js'
import type { Watch } from '../watch.js'
import { documented } from './openapi.js'

export interface MetricsOptions {
  /** The read model (lib/watch.ts); without heap spaces, runtime figures or GC figures, those families are left out. */
  watch: Pick<Watch, 'requests' | 'sampled' | 'onSample' | 'alertsView' | 'custom'> & Partial<Pick<Watch, 'heapSpaces' | 'gc' | 'fleet' | 'runtime' | 'errorGroups' | 'breakdown'>>
  metricsPath: string
  access: Pick<Access, 'hook'>
  /** The `prometheus` option: a prefix, constant labels, the status_code label. */
  prometheus?: NormalizedPrometheus
  /** Shared mode is on: the fleet's merged counts have no durations by exact status code. */
  shared?: boolean
}

// For the app's OpenAPI document (lib/routes/openapi.ts). The body is a Buffer: no serializer ever runs on it.
const METRICS_SCHEMA = {
  ...documented('Prometheus metrics', 'The Prometheus text exposition (format 0.0.4), for callers that authorize allows.'),
  response: { 200: { description: 'The exposition', content: { [PROMETHEUS_CONTENT_TYPE]: { schema: { type: 'string' } } } } }
}

/** The groups, unless they are off (`maxErrorGroups: 0`): then their families are left out. */
const errorGroupsOrNull = (store: ReturnType<Watch['errorGroups']>) => store.maxGroups === 0 ? null : store

/** `GET {metricsPath}` (and HEAD): the Prometheus text exposition, for callers that `authorize` allows. */
export function registerMetrics (app: FastifyInstance, { watch, metricsPath, access, prometheus = NO_RELABELING, shared = false }: MetricsOptions): void {
  /** What one rendering reads; in shared mode the fleet's counters and status (lib/prometheus/families/fleet.ts). */
  function read (): MetricsRead {
    const sampled = watch.sampled()
    const fleet = watch.fleet?.view() ?? null
    return {
      snapshot: fleet === null ? sampled : { ...sampled, status: watch.fleet!.status(sampled.status) },
      requests: fleet === null ? watch.requests : fleet.requests,
      // The fleet's merged counts keep durations by status class only (lib/shared/state.ts).
      statusCode: prometheus.statusCode && fleet === null,
      runtime: watch.runtime?.() ?? null,
      heapSpaces: watch.heapSpaces?.() ?? [],
      gc: watch.gc?.() ?? null,
      alerts: watch.alertsView(),
      fleet,
      errorGroups: watch.errorGroups === undefined ? null : errorGroupsOrNull(watch.errorGroups()),
      breakdown: watch.breakdown ?? null
    }
  }
  if (prometheus.statusCode && shared) {
    app.log.warn('server-watch: prometheus.statusCode is not available in shared mode: the fleet\'s http_request_duration_seconds keep status_class only')
  }
  // Rendered on the first scrape after a sample and served to every scrape until the next sample: ten scrapers
  // must not cost ten renderings (benchmark/README.md, "Ten concurrent scrapes cost about one"). The read model is
  // read at once; only the custom metrics' text is written over several turns of the loop.
  let body: Promise<Buffer> | null = null
  const render = (): Promise<Buffer> => encodeMetrics(read(), prometheus, watch.custom)
  const unsubscribe = watch.onSample(() => { body = null })
  app.addHook('onClose', (_instance, done) => {
    unsubscribe()
    done()
  })

  app.route({
    method: 'GET',
    url: metricsPath,
    exposeHeadRoute: true,
    config: { serverWatch: false },
    schema: METRICS_SCHEMA,
    onRequest: access.hook,
    async handler (_request, reply) {
      // A Buffer, so that it is encoded once rather than once per scrape.
      body ??= render()
      const text = await body
      return reply.header('cache-control', 'no-store').type(PROMETHEUS_CONTENT_TYPE).send(text)
    }
  })
}
