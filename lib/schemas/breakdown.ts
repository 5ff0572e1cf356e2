/** What the `breakdown` option adds to the snapshot (lib/breakdown/, docs/breakdown.md). */
import { Type, type Static } from '@sinclair/typebox'
import { Count, NullableNumber } from './common.js'

/** One kind of call (database or outbound) on one route. */
export const CallFiguresSchema = Type.Object({
  callsPerRequest: Type.Number({ minimum: 0 }),
  timeMsPerRequest: Type.Object({
    avg: Type.Number({ minimum: 0 }),
    p95: NullableNumber
  }, { description: 'per request, the wall time with at least one such call running (concurrent calls once)' }),
  share: Type.Number({
    minimum: 0,
    maximum: 1,
    description: 'the fraction of the route\'s response time spent in these calls; time shared with the other kind counts half to each, so database + outbound <= 1 and the application is the rest'
  })
})

/** The fields `breakdown` adds to `application.endpoints[key]`. */
export const EndpointBreakdownFields = {
  database: Type.Optional(CallFiguresSchema),
  outbound: Type.Optional(CallFiguresSchema),
  nPlusOne: Type.Optional(Type.Integer({ minimum: 0, description: 'requests in which one query shape ran nPlusOneCalls times or more' }))
}

export const SlowQuerySchema = Type.Object({
  command: Type.String(),
  collection: Type.Union([Type.String(), Type.Null()]),
  shape: Type.String({ description: 'the command with every value replaced by "?"' }),
  durationMs: Type.Number({ minimum: 0 }),
  endpoint: Type.String({ description: 'the route that ran it, or "(outside requests)"' }),
  at: Type.String({ format: 'date-time' })
})

export const NPlusOnePatternSchema = Type.Object({
  endpoint: Type.String(),
  shape: Type.String(),
  callsPerRequest: Type.Number({ minimum: 0 }),
  requests: Count
})

export const OutsideCallsSchema = Type.Object({
  calls: Count,
  timeMs: Type.Number({ minimum: 0 })
}, { description: 'calls made outside any request (a job, a timer, work started after a response)' })

/** The fields `breakdown` adds to a watched `database`. */
export const DatabaseBreakdownFields = {
  slowQueries: Type.Optional(Type.Array(SlowQuerySchema)),
  nPlusOne: Type.Optional(Type.Array(NPlusOnePatternSchema)),
  outsideRequests: Type.Optional(OutsideCallsSchema)
}

export const HostFiguresSchema = Type.Object({
  calls: Count,
  errors: Type.Integer({ minimum: 0, description: 'calls that failed or were answered 500 or more' }),
  p50Ms: NullableNumber,
  p95Ms: NullableNumber
})

export const OutboundSchema = Type.Object({
  hosts: Type.Record(Type.String(), HostFiguresSchema, { description: 'by host:port; past 50, "(other hosts)"' }),
  outsideRequests: OutsideCallsSchema
})

export type CallFigures = Static<typeof CallFiguresSchema>
export type SlowQuery = Static<typeof SlowQuerySchema>
export type NPlusOnePattern = Static<typeof NPlusOnePatternSchema>
export type OutsideCalls = Static<typeof OutsideCallsSchema>
export type HostFigures = Static<typeof HostFiguresSchema>
export type OutboundSnapshot = Static<typeof OutboundSchema>
