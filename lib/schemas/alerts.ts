import { Type, type Static } from '@sinclair/typebox'

export const AlertSeverity = Type.Union([Type.Literal('degraded'), Type.Literal('unhealthy')])

/** A rule that is firing: its figure has been past its threshold for at least `forMs`. */
export const AlertSchema = Type.Object({
  name: Type.String(),
  metric: Type.String({ description: 'the figure\'s path in the snapshot' }),
  value: Type.Union([Type.Number(), Type.Null()], { description: 'the figure at the last sample' }),
  direction: Type.Union([Type.Literal('above'), Type.Literal('below')]),
  threshold: Type.Number(),
  severity: AlertSeverity,
  since: Type.String({ format: 'date-time', description: 'when it fired' })
})

/** A change of a rule's state, for the dashboard's timeline, the webhook and `onAlert`. */
export const AlertEventSchema = Type.Object({
  type: Type.Union([Type.Literal('fired'), Type.Literal('resolved')]),
  name: Type.String(),
  metric: Type.String(),
  value: Type.Union([Type.Number(), Type.Null()]),
  direction: Type.Union([Type.Literal('above'), Type.Literal('below')]),
  threshold: Type.Number(),
  severity: AlertSeverity,
  timestamp: Type.String({ format: 'date-time' }),
  hostname: Type.String(),
  pid: Type.Integer()
})

/** A rule as the dashboard sees it: enough to draw its threshold on the matching chart. */
export const AlertRuleViewSchema = Type.Object({
  name: Type.String(),
  metric: Type.String(),
  direction: Type.Union([Type.Literal('above'), Type.Literal('below')]),
  threshold: Type.Number(),
  forMs: Type.Integer(),
  severity: AlertSeverity,
  shed: Type.Boolean()
})

export const AlertsViewSchema = Type.Object({
  active: Type.Array(AlertSchema),
  rules: Type.Array(AlertRuleViewSchema),
  transitions: Type.Array(AlertEventSchema, { description: 'newest first' })
})

export type Alert = Static<typeof AlertSchema>
export type AlertEvent = Static<typeof AlertEventSchema>
export type AlertRuleView = Static<typeof AlertRuleViewSchema>
export type AlertsView = Static<typeof AlertsViewSchema>
