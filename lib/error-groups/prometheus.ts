import { labelled, single, type Family } from '../prometheus/family.js'
import type { MetricsRead } from '../prometheus/read.js'

/** Series of `server_watch_errors_total`: one per group, for the most counted only, so that ids cannot grow them. */
export const ERROR_GROUP_SERIES = 20

/**
 * The error groups in /metrics (docs/errors-and-releases.md): how many are kept, how many were evicted, and the
 * occurrences of the most counted. The same in both modes: in shared mode the store read is the fleet's.
 * Absent with `maxErrorGroups: 0`.
 */
export const ERROR_GROUP_FAMILIES: ReadonlyArray<Family<MetricsRead>> = [
  single('server_watch_error_groups', 'gauge', 'any', 'Error groups kept (at most maxErrorGroups)',
    (read) => read.errorGroups?.size),
  single('server_watch_error_groups_evicted_total', 'counter', 'any', 'Error groups evicted to stay within maxErrorGroups',
    (read) => read.errorGroups?.evicted),
  labelled('server_watch_errors_total', 'counter', 'any',
    `Occurrences of the ${ERROR_GROUP_SERIES} most counted error groups, by group id and error class`, ['error_group', 'error_class'],
    (read) => read.errorGroups?.top(ERROR_GROUP_SERIES).map((group) => [[group.id, group.name], group.count] as const) ?? [])
]
