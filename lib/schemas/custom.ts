import { Type, type Static } from '@sinclair/typebox'
import { NullableNumber } from './common.js'

const Labels = Type.Record(Type.String(), Type.String(), { description: 'label name to value; {} for the unlabelled series' })
const Help = Type.String()

export const CustomCounterSchema = Type.Object({
  type: Type.Literal('counter'),
  help: Help,
  values: Type.Array(Type.Object({ labels: Labels, value: Type.Number({ minimum: 0 }) }))
})

export const CustomGaugeSchema = Type.Object({
  type: Type.Literal('gauge'),
  help: Help,
  values: Type.Array(Type.Object({ labels: Labels, value: NullableNumber }))
})

export const CustomHistogramSchema = Type.Object({
  type: Type.Literal('histogram'),
  help: Help,
  values: Type.Array(Type.Object({
    labels: Labels,
    count: Type.Integer({ minimum: 0 }),
    sum: Type.Number({ description: 'milliseconds' }),
    p50: NullableNumber,
    p95: NullableNumber,
    p99: NullableNumber,
    max: NullableNumber
  }), { description: 'milliseconds; percentiles null until something was recorded' })
})

/** The app's own metrics (app.serverWatch.counter, gauge, histogram), by name. */
export const CustomMetricsSchema = Type.Record(Type.String(), Type.Union([CustomCounterSchema, CustomGaugeSchema, CustomHistogramSchema]))

export type CustomMetricsSnapshot = Static<typeof CustomMetricsSchema>
export type CustomMetricSnapshot = CustomMetricsSnapshot[string]
