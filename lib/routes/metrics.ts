import type { FastifyInstance } from 'fastify'
import type { Access } from '../access/index.js'
import { renderCustomMetrics } from '../custom/prometheus.js'
import { PROMETHEUS_CONTENT_TYPE, renderMetrics, type MetricsSource } from '../prometheus.js'
import { relabel, type Relabel } from '../prometheus-relabel.js'
import { dropFamilies, fleetFamilies, PER_PROCESS_FAMILIES } from '../shared/prometheus.js'
import type { Watch } from '../watch.js'

export interface MetricsOptions {
  /** The read model (lib/watch.ts); without heap spaces or GC figures, those families are left out. */
  watch: Pick<Watch, 'requests' | 'sampled' | 'onSample' | 'alertsView' | 'custom'> & Partial<Pick<Watch, 'heapSpaces' | 'gc' | 'fleet' | 'errorGroups'>>
  metricsPath: string
  access: Pick<Access, 'hook'>
  /** The `prometheus` option: a prefix and constant labels, or null. */
  relabeling?: Relabel | null
}

/** `GET {metricsPath}` (and HEAD): the Prometheus text exposition, for callers that `authorize` allows. */
export function registerMetrics (app: FastifyInstance, { watch, metricsPath, access, relabeling = null }: MetricsOptions): void {
  const source: MetricsSource = {
    requests: watch.requests,
    // The fleet's status in shared mode (the worst live process's).
    snapshot: () => {
      const sampled = watch.sampled()
      return { ...sampled, status: watch.fleet?.status(sampled.status) ?? sampled.status }
    },
    heapSpaces: watch.heapSpaces,
    gc: watch.gc,
    alerts: watch.alertsView,
    custom: () => renderCustomMetrics(watch.custom),
    errorGroups: watch.errorGroups
  }
  // Rendered on the first scrape after a sample and served to every scrape until the next sample: ten scrapers
  // must not cost ten renderings (benchmark/README.md, "Ten concurrent scrapes cost about one").
  let body: Buffer | null = null
  const unsubscribe = watch.onSample(() => { body = null })
  app.addHook('onClose', (_instance, done) => {
    unsubscribe()
    done()
  })

  /** Shared mode: the merged series, whichever process answers (lib/shared/prometheus.ts says why). */
  const render = (): string => {
    const view = watch.fleet?.view() ?? null
    if (view === null) return renderMetrics(source)
    // The fleet's request counters, the same interface as the request store's.
    const text = renderMetrics({ ...source, requests: view.requests })
    return dropFamilies(text, PER_PROCESS_FAMILIES) + fleetFamilies(view)
  }

  app.route({
    method: 'GET',
    url: metricsPath,
    exposeHeadRoute: true,
    config: { serverWatch: false },
    onRequest: access.hook,
    handler (_request, reply) {
      // A Buffer, so that it is encoded once rather than once per scrape.
      body ??= Buffer.from(relabeling === null ? render() : relabel(render(), relabeling))
      reply.header('cache-control', 'no-store').type(PROMETHEUS_CONTENT_TYPE).send(body)
    }
  })
}
