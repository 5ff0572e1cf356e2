import type { Histogram } from '../../histogram.js'
import { OTHER_STATUS_KEY } from '../../requests/figures.js'
import type { EndpointCounters } from '../../requests/counts.js'
import { HTTP_BOUND_INDEXES, HTTP_DURATION_BOUNDS } from '../buckets.js'
import { labelled, single, type Family } from '../family.js'
import type { MetricsRead } from '../read.js'

/** The HTTP families, read from the request counters: this process's, or in shared mode the fleet's (no pid label). */
export const HTTP_FAMILIES: ReadonlyArray<Family<MetricsRead>> = [
  labelled('http_requests_total', 'counter', 'any', 'Responses by method, route pattern and status class', ['method', 'route', 'status_class'],
    function * (read) {
      for (const endpoint of read.requests.allEndpoints()) {
        for (const [statusClass, histogram] of classes(endpoint)) yield [[endpoint.method, endpoint.route, statusClass], histogram.count]
      }
    }),
  {
    name: 'http_request_duration_seconds',
    type: 'histogram',
    help: 'Response time by method, route pattern and status class',
    labels: ['method', 'route', 'status_class'],
    scope: 'any',
    write (out, read) {
      if (read.statusCode) return
      for (const endpoint of read.requests.allEndpoints()) {
        for (const [statusClass, histogram] of classes(endpoint)) {
          out.histogram([endpoint.method, endpoint.route, statusClass], histogram, HTTP_DURATION_BOUNDS, HTTP_BOUND_INDEXES)
        }
      }
    }
  },
  {
    // `prometheus: { statusCode: true }`: the same family with the exact code beside the class (fastify-metrics' label).
    name: 'http_request_duration_seconds',
    type: 'histogram',
    help: 'Response time by method, route pattern and status code',
    labels: ['method', 'route', 'status_class', 'status_code'],
    scope: 'any',
    write (out, read) {
      if (!read.statusCode) return
      for (const endpoint of read.requests.allEndpoints()) {
        const byCode = endpoint.byCode
        if (byCode === undefined) continue
        for (const [slot, histogram] of byCode) {
          const code = slot === 0 ? OTHER_STATUS_KEY : String(slot)
          const statusClass = slot >= 100 && slot < 600 ? `${code[0]}xx` : '5xx'
          out.histogram([endpoint.method, endpoint.route, statusClass, code], histogram, HTTP_DURATION_BOUNDS, HTTP_BOUND_INDEXES)
        }
      }
    }
  },
  labelled('http_responses_by_code_total', 'counter', 'any', 'Responses by exact status code, every route together', ['code'], function * (read) {
    const codes = read.requests.statusCodes
    for (let code = 100; code < codes.length; code++) if (codes[code]! > 0) yield [[String(code)], codes[code]!]
    if (codes[0]! > 0) yield [[OTHER_STATUS_KEY], codes[0]!]
  }),
  single('http_requests_in_flight', 'gauge', 'any', 'Requests being handled now', (read) => Math.max(0, read.requests.inFlight)),
  single('http_requests_shed_total', 'counter', 'any', 'Requests refused by load shedding (503), counted in no other series',
    (read) => read.requests.shed > 0 ? read.requests.shed : null),
  single('http_requests_aborted_total', 'counter', 'any', 'Requests whose connection closed before their response was complete',
    (read) => read.requests.aborted),
  // Not a series that is always 0: without a connectionTimeout nothing can time out.
  single('http_requests_timed_out_total', 'counter', 'any', 'Requests whose socket hit Fastify\'s connectionTimeout',
    (read) => read.requests.countsTimeouts ? read.requests.timedOut : null)
]

const CLASS_NAMES = ['', '1xx', '2xx', '3xx', '4xx', '5xx'] as const

/** Each status class an endpoint has answered with, and its histogram. */
function * classes (endpoint: EndpointCounters): Generator<[string, Histogram]> {
  for (let statusClass = 1; statusClass <= 5; statusClass++) {
    const histogram = endpoint.byClass[statusClass]
    if (histogram !== undefined) yield [CLASS_NAMES[statusClass]!, histogram]
  }
}
