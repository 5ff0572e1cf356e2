/**
 * The IETF draft "Health Check Response Format for HTTP APIs" (draft-inadarei-api-health-check-06), media type
 * `application/health+json`: what `GET /health` answers to a client that asks for it in `Accept`.
 * Units are UCUM codes (`ms`, `s`, `%`), which the draft allows as "a standards document" term.
 */
import { Type, type Static } from '@sinclair/typebox'

export const HealthJsonStatus = Type.Union([Type.Literal('pass'), Type.Literal('warn'), Type.Literal('fail')])

export const HealthJsonCheckSchema = Type.Object({
  componentId: Type.Optional(Type.String()),
  componentType: Type.Optional(Type.String()),
  observedValue: Type.Optional(Type.Number()),
  observedUnit: Type.Optional(Type.String()),
  status: HealthJsonStatus,
  time: Type.Optional(Type.String({ format: 'date-time' })),
  output: Type.Optional(Type.String())
})

export const HealthJsonSchema = Type.Object({
  status: HealthJsonStatus,
  serviceId: Type.Optional(Type.String()),
  description: Type.Optional(Type.String()),
  output: Type.Optional(Type.String()),
  checks: Type.Optional(Type.Record(Type.String(), Type.Array(HealthJsonCheckSchema), {
    description: 'keyed "component:measurement" (or "uptime"); one element per component instance'
  }))
}, { $id: 'ServerWatchHealthJson' })

export type HealthJson = Static<typeof HealthJsonSchema>
export type HealthJsonCheck = Static<typeof HealthJsonCheckSchema>
