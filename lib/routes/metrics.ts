import type { FastifyInstance } from 'fastify'
import type { Access } from '../access/index.js'
import { renderCustomMetrics } from '../custom/prometheus.js'
import { PROMETHEUS_CONTENT_TYPE, createGcStats, renderMetrics } from '../prometheus.js'
import type { Watch } from '../watch.js'

export interface MetricsOptions {
  watch: Pick<Watch, 'requests' | 'sampled' | 'alertsView' | 'custom'>
  metricsPath: string
  access: Pick<Access, 'hook'>
}

/** `GET {metricsPath}` (and HEAD): the Prometheus text exposition, for callers that `authorize` allows. */
export function registerMetrics (app: FastifyInstance, { watch, metricsPath, access }: MetricsOptions): void {
  // Created only when /metrics is on: the GC observer is the one cost of this feature outside a scrape.
  const gc = createGcStats()
  const source = {
    requests: watch.requests,
    snapshot: () => watch.sampled(),
    alerts: watch.alertsView,
    custom: () => renderCustomMetrics(watch.custom)
  }
  app.addHook('onClose', (_instance, done) => { gc.close(); done() })

  app.route({
    method: 'GET',
    url: metricsPath,
    exposeHeadRoute: true,
    config: { serverWatch: false },
    onRequest: access.hook,
    handler (_request, reply) {
      reply.header('cache-control', 'no-store').type(PROMETHEUS_CONTENT_TYPE).send(renderMetrics(source, gc))
    }
  })
}
