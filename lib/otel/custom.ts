import { Counter } from '../custom/counter.js'
import { Gauge } from '../custom/gauge.js'
import { CustomHistogram } from '../custom/histogram.js'
import type { CustomMetric, CustomMetrics } from '../custom/registry.js'
import type { Labels } from '../custom/series.js'
import { HTTP_DURATION_BOUNDS } from '../prometheus/buckets.js'
import type { OtelBatchCallback, OtelMeter, OtelObservable } from './types.js'

/**
 * The app's own metrics in OpenTelemetry, under the names they were registered with and their labels as
 * attributes: a counter as an observable counter and a gauge as an observable gauge, read when the provider
 * collects; a histogram as a histogram in seconds on the Prometheus bounds, each `observe` recorded into it too
 * (as for request durations, the API has no observable histogram). Attributes are the capped label sets: past
 * `maxSeries` they read "(other)", as in /metrics.
 */
export function exportCustomMetrics (meter: OtelMeter, custom: CustomMetrics): () => void {
  const stops: Array<() => void> = []
  const unsubscribe = custom.onRegister((metric) => { stops.push(exportMetric(meter, metric)) })
  return () => {
    unsubscribe()
    for (const stop of stops) stop()
  }
}

function exportMetric (meter: OtelMeter, metric: CustomMetric): () => void {
  if (metric instanceof CustomHistogram) {
    const histogram = meter.createHistogram(metric.name, {
      description: metric.help,
      unit: 's',
      advice: { explicitBucketBoundaries: [...HTTP_DURATION_BOUNDS] }
    })
    const observe = metric.observe
    metric.observe = function observeAndExport (valueMs: number, labels?: Labels): void {
      observe.call(this, valueMs, labels)
      histogram.record(valueMs / 1000, this.labelsOf(labels))
    }
    // The prototype's observe again.
    return () => { delete (metric as Partial<CustomHistogram>).observe }
  }
  const options = { description: metric.help }
  const instrument: OtelObservable = metric instanceof Counter
    ? meter.createObservableCounter(metric.name, options)
    : meter.createObservableGauge(metric.name, options)
  const source: Counter | Gauge = metric
  const callback: OtelBatchCallback = (result) => {
    for (const { labels, value } of source.values()) {
      if (value.value !== null) result.observe(instrument, value.value, labels)
    }
  }
  meter.addBatchObservableCallback(callback, [instrument])
  return () => meter.removeBatchObservableCallback(callback, [instrument])
}
