import type { Histogram } from '../histogram.js'

/**
 * The one shape of "request counters", whoever holds them: this process's store (lib/requests/store.ts) and the
 * fleet's merged counts (lib/shared/) both are one. Every reader (the snapshot's figures, /metrics, the history,
 * the recent window, OpenTelemetry) takes this, so no adapter or cast stands between a holder and a reader.
 */
export interface EndpointCounters {
  readonly key: string
  readonly method: string
  readonly route: string
  readonly count: number
  readonly errorCount: number
  /** Index 1 to 5: durations by status class (1xx to 5xx), each created on the first response of its class. */
  readonly byClass: ReadonlyArray<Histogram | undefined>
  /** Every class together: what the snapshot's percentiles read. */
  combined (): Histogram
  /** With `prometheus: { statusCode: true }`: durations by status slot (the code from 100 to 999, 0 for any other). */
  readonly byCode?: ReadonlyMap<number, Histogram>
}

export interface RequestCounters {
  readonly total: number
  readonly errorCount: number
  /** Requests being served now (a fleet: the live processes' sum). */
  readonly inFlight: number
  readonly shed: number
  readonly aborted: number
  readonly timedOut: number
  /** Whether timeouts are counted at all: only with a `connectionTimeout` (else `timedOut` is always 0). */
  readonly countsTimeouts: boolean
  /** Indexed by status code from 100 to 999; slot 0 counts any other value. */
  readonly statusCodes: ArrayLike<number>
  /** Every response's duration. */
  readonly histogram: Histogram
  /** Every endpoint, the overflow and not-found buckets last. */
  allEndpoints (): readonly EndpointCounters[]
}
