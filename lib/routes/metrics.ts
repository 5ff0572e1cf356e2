import type { FastifyInstance } from 'fastify'
import type { Access } from '../access/index.js'
import { renderCustomMetrics } from '../custom/prometheus.js'
import { PROMETHEUS_CONTENT_TYPE, renderMetrics, type MetricsSource } from '../prometheus.js'
import { relabel, type Relabel } from '../prometheus-relabel.js'
import type { RequestsView } from '../requests/store.js'
import { dropFamilies, fleetFamilies, fleetRequests, PER_PROCESS_FAMILIES } from '../shared/prometheus.js'
import { worstStatus } from '../shared/store.js'
import type { Watch } from '../watch.js'

export interface MetricsOptions {
  /** The read model (lib/watch.ts); without heap spaces or GC figures, those families are left out. */
  watch: Pick<Watch, 'requests' | 'sampled' | 'onSample' | 'alertsView' | 'custom'> & Partial<Pick<Watch, 'heapSpaces' | 'gc' | 'shared' | 'breakdown'>>
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
      return { ...sampled, status: worstStatus(sampled.status, watch.shared?.view()?.status ?? 'healthy') }
    },
    heapSpaces: watch.heapSpaces,
    gc: watch.gc,
    alerts: watch.alertsView,
    custom: () => renderCustomMetrics(watch.custom),
    // This process's calls: left out in shared mode, whose series are the fleet's whichever process answers.
    breakdown: watch.shared == null ? watch.breakdown : null
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
    const view = watch.shared?.view() ?? null
    if (view === null) return renderMetrics(source)
    // The same shape as the request store, with a Float64 status array and the fleet's endpoints.
    const text = renderMetrics({ ...source, requests: fleetRequests(view) as unknown as RequestsView })
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
