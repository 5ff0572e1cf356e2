import t from 'tap'
import { Registry, collectDefaultMetrics } from 'prom-client'
import { buildApp } from '../helpers/app.js'
import { collectGarbage } from '../helpers/time.js'

/**
 * prom-client's default metrics that have no equal here (docs/prometheus.md, "prom-client's names"): the plugin measures the
 * event loop delay per sample interval (p50, p99, max), not its min, mean, stddev and p90; the V8 heap of /proc's
 * VmData is not read, nor the handle and request lists by type (nodejs_active_resources has every type).
 * `sum(nodejs_active_resources)` is nodejs_active_resources_total.
 */
const NOT_PROVIDED = [
  'nodejs_eventloop_lag_min_seconds', 'nodejs_eventloop_lag_mean_seconds',
  'nodejs_eventloop_lag_stddev_seconds', 'nodejs_eventloop_lag_p90_seconds', 'process_heap_bytes',
  'nodejs_active_handles', 'nodejs_active_requests', 'nodejs_active_resources_total'
]
/** Issue 30.2: stock boards query these two; a gauge named `_total` fails promtool's lint, so they are untyped here. */
const UNTYPED = ['nodejs_active_handles_total', 'nodejs_active_requests_total']

/** `name -> { type, label names of its samples (without le), values of the label "space" }` from an exposition. */
function families (text: string) {
  const found = new Map<string, { type: string, labels: Set<string>, spaces: Set<string> }>()
  let current: { type: string, labels: Set<string>, spaces: Set<string> } | undefined
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line)
    if (type !== null) {
      current = { type: type[2]!, labels: new Set(), spaces: new Set() }
      found.set(type[1]!, current)
      continue
    }
    if (line === '' || line.startsWith('#') || current === undefined) continue
    for (const [, name, value] of line.matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) {
      if (name !== 'le') current.labels.add(name!)
      if (name === 'space') current.spaces.add(value!)
    }
  }
  return found
}

t.test('every default metric of prom-client is served under its name, type and labels, or is listed as not provided', async (t) => {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  const theirs = await registry.getMetricsAsJSON()
  const app = await buildApp()
  t.teardown(() => app.close())
  await app.ready()
  // Garbage, so that nodejs_gc_duration_seconds has samples here.
  await collectGarbage()
  await app.serverWatch.refresh()
  const ours = families((await app.inject('/metrics')).body)
  const theirText = families(await registry.metrics())
  t.ok(theirs.length >= 30, 'prom-client\'s defaults were read')
  for (const metric of theirs) {
    if (NOT_PROVIDED.includes(metric.name)) {
      t.notOk(ours.has(metric.name), `${metric.name} is not provided`)
      continue
    }
    const family = ours.get(metric.name)
    t.ok(family, `${metric.name} is served`)
    if (family === undefined) continue
    t.equal(family.type, UNTYPED.includes(metric.name) ? 'untyped' : metric.type, `${metric.name} is a ${metric.type}`)
    const labelNames = (registry.getSingleMetric(metric.name) as unknown as { labelNames: string[] }).labelNames
    t.same([...family.labels].sort(), [...labelNames].sort(), `${metric.name} has the labels ${labelNames.join(', ') || '(none)'}`)
  }
  const spaces = theirText.get('nodejs_heap_space_size_used_bytes')!.spaces
  t.same([...ours.get('nodejs_heap_space_size_used_bytes')!.spaces].sort(), [...spaces].sort(), 'the same space names (old, new, code...)')
  t.ok(spaces.has('old'))
})
