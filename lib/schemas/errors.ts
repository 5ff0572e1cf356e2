import { Type, type Static } from '@sinclair/typebox'
import type { AlertEvent } from './alerts.js'
import { Count, Nullable, NullableNumber } from './common.js'

/**
 * Error groups, releases and Apdex in the snapshot (issue 28; docs/errors-and-releases.md). lib/error-groups/ and
 * lib/releases/ build these types (derived here with Static<>), so the schema and the builders cannot drift.
 */
const Tally = Type.Record(Type.String(), Count)

/** One group: `application.errorGroups[]`, most recently seen first. */
export const ErrorGroupSchema = Type.Object({
  id: Type.String({ description: 'a hash of the fingerprint: the same in every process and after a restart' }),
  name: Type.String({ description: 'the error\'s class' }),
  code: Nullable(Type.String()),
  message: Type.String({ description: 'the latest, cut as recent errors are' }),
  count: Count,
  firstSeen: Type.String({ format: 'date-time' }),
  lastSeen: Type.String({ format: 'date-time' }),
  firstRelease: Nullable(Type.String()),
  endpoints: Type.Record(Type.String(), Count, { description: 'route key -> occurrences (at most 20 routes, the rest under "(other routes)")' }),
  statusCodes: Tally,
  stack: Nullable(Type.String({ description: 'one sample: app frames with their lines, library frames collapsed' })),
  perMinute: Type.Array(Count, { minItems: 60, maxItems: 60, description: 'occurrences per minute over the last hour, oldest first' })
})

export const ErrorGroupsSchema = Type.Array(ErrorGroupSchema)

const Verdict = Type.Union([Type.Literal('better'), Type.Literal('same'), Type.Literal('worse'), Type.Literal('too_few')])

export const ReleaseSideSchema = Type.Object({
  requests: Count,
  errorRate: Type.Number({ minimum: 0, maximum: 100, description: 'percent of responses with status >= 500' }),
  p50Ms: NullableNumber,
  p95Ms: NullableNumber
})

export const ReleaseComparisonSchema = Type.Object({
  endpoint: Type.String(),
  before: ReleaseSideSchema,
  after: ReleaseSideSchema,
  verdict: Verdict,
  changed: Type.Array(Type.Object({
    figure: Type.Union([Type.Literal('errorRate'), Type.Literal('p95Ms')]),
    direction: Type.Union([Type.Literal('better'), Type.Literal('worse')])
  }))
})

export const ReleasesSchema = Type.Object({
  current: Type.Object({ release: Nullable(Type.String()), since: Type.String({ format: 'date-time' }) }),
  previous: Nullable(Type.Object({
    release: Nullable(Type.String()),
    since: Type.String({ format: 'date-time' }),
    until: Type.String({ format: 'date-time', description: 'when it was last seen running' })
  })),
  comparison: Type.Array(ReleaseComparisonSchema, { description: 'worse first, then better, same, too_few' })
})

export const ApdexFiguresSchema = Type.Object({
  score: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
  satisfied: Count,
  tolerating: Count,
  frustrated: Count
})

export const ApdexSchema = Type.Composite([
  Type.Object({ thresholdMs: Type.Number({ exclusiveMinimum: 0 }) }),
  ApdexFiguresSchema,
  Type.Object({ endpoints: Type.Record(Type.String(), ApdexFiguresSchema) })
])

/** The alert event raised the first time a group is seen in a release (to `onAlert` and the webhook). */
export const ErrorNewEventSchema = Type.Object({
  type: Type.Literal('error.new'),
  name: Type.String({ description: '`error.new <group id>`: what a webhook delivery is keyed by, as a rule\'s name is' }),
  group: ErrorGroupSchema,
  release: Nullable(Type.String()),
  timestamp: Type.String({ format: 'date-time' }),
  hostname: Type.String(),
  pid: Type.Integer()
})

export type ErrorGroupSnapshot = Static<typeof ErrorGroupSchema>
export type ReleasesSnapshot = Static<typeof ReleasesSchema>
export type ApdexSnapshot = Static<typeof ApdexSchema>
export type ApdexFigures = Static<typeof ApdexFiguresSchema>
export type ReleaseSide = Static<typeof ReleaseSideSchema>
export type ReleaseComparison = Static<typeof ReleaseComparisonSchema>
export type ErrorNewEvent = Static<typeof ErrorNewEventSchema>

/** Everything `onAlert` and the webhook receive: a rule's transition, or a new error group. */
export type AnyAlertEvent = AlertEvent | ErrorNewEvent
