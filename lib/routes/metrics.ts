import type { FastifyInstance } from 'fastify'
import type { Access } from '../access/index.js'
import { renderCustomMetrics } from '../custom/prometheus.js'
import { PROMETHEUS_CONTENT_TYPE, renderMetrics, type MetricsSource } from '../prometheus.js'
import { relabel, type Relabel } from '../prometheus-relabel.js'
import type { Watch } from '../watch.js'

export interface MetricsOptions {
  /** The read model (lib/watch.ts); without heap spaces or GC figures, those families are left out. */
  watch: Pick<Watch, 'requests' | 'sampled' | 'onSample' | 'alertsView' | 'custom'> & Partial<Pick<Watch, 'heapSpaces' | 'gc'>>
  metricsPath: string
  access: Pick<Access, 'hook'>
  /** The `prometheus` option: a prefix and constant labels, or null. */
  relabeling?: Relabel | null
}

/** `GET {metricsPath}` (and HEAD): the Prometheus text exposition, for callers that `authorize` allows. */
export function registerMetrics (app: FastifyInstance, { watch, metricsPath, access, relabeling = null }: MetricsOptions): void {
  const source: MetricsSource = {
    requests: watch.requests,
    snapshot: () => watch.sampled(),
    heapSpaces: watch.heapSpaces,
    gc: watch.gc,
    alerts: watch.alertsView,
    custom: () => renderCustomMetrics(watch.custom)
  }
  // Rendered on the first scrape after a sample and served to every scrape until the next sample: ten scrapers
  // must not cost ten renderings (benchmark/README.md, "Ten concurrent scrapes cost about one").
  let body: Buffer | null = null
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
    onRequest: access.hook,
    handler (_request, reply) {
      // A Buffer, so that it is encoded once rather than once per scrape.
      body ??= Buffer.from(relabeling === null ? renderMetrics(source) : relabel(renderMetrics(source), relabeling))
      reply.header('cache-control', 'no-store').type(PROMETHEUS_CONTENT_TYPE).send(body)
    }
  })
}
