// Type tests for the public API and the `declare module 'fastify'` augmentation: `npm run typecheck` compiles this
// file, so a line that stops compiling, or an `@ts-expect-error` line that starts to, fails `npm test`.
import Fastify from 'fastify'
import serverWatch, {
  serverWatch as named, type AlertEvent, type HealthSnapshot, type ServerWatchOptions, FST_SERVER_WATCH_INVALID_OPTION
} from '../../lib/plugin.js'

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false
const assert = <T extends true>(_proof?: T): void => {}

export async function typeTests (): Promise<object> {
  const app = Fastify()
  assert<Equal<typeof serverWatch, typeof named>>()
  await app.register(serverWatch, {
    token: ['a-long-enough-token-1', 'a-long-enough-token-2'],
    alerts: { rules: [{ name: 'slow-loop', metric: 'eventLoop.delayMs.p99', above: 500, forMs: 20_000, severity: 'unhealthy' }] },
    prometheus: { prefix: 'shop_', labels: { service: 'checkout' } },
    checks: { cache: { check: async () => {}, required: false, timeoutMs: 500 } }
  })
  const options: ServerWatchOptions = { healthPath: false, dashboardPath: '/ops', authorize: async (request) => request.ip === '127.0.0.1' }
  const withLocal: ServerWatchOptions = { token: 'a-long-enough-token-1', localAccess: true, profiles: true }
  const withBreakdown: ServerWatchOptions[] = [{ breakdown: true }, { breakdown: { database: true, outbound: false, nPlusOneCalls: 10 } }]
  // @ts-expect-error nPlusOneCalls is a number
  const badBreakdown: ServerWatchOptions = { breakdown: { nPlusOneCalls: '5' } }
  const endpointShare: number | undefined = app.serverWatch.snapshot().application.endpoints['GET /']?.database?.share
  // @ts-expect-error localAccess is a boolean
  const badLocal: ServerWatchOptions = { localAccess: 'yes' }

  // The decorator, typed through the augmentation.
  const snapshot: HealthSnapshot = app.serverWatch.snapshot()
  assert<Equal<typeof snapshot.status, 'healthy' | 'degraded' | 'unhealthy'>>()
  const rate: number | null = snapshot.application.recent.errorRate
  app.serverWatch.counter('orders_total', { labelNames: ['method'] }).inc(1, { method: 'card' })
  app.serverWatch.gauge('queue_depth', { collect: () => 3 })
  app.serverWatch.histogram('payment_duration').observe(12.5)
  const transitions: AlertEvent[] = app.serverWatch.alerts().transitions

  // Route config: opting out of counting, or of shedding only.
  app.get('/a', { config: { serverWatch: false } }, async () => 'a')
  app.get('/b', { config: { serverWatch: { shed: false } } }, async () => 'b')

  // @ts-expect-error the decorator is read-only
  app.serverWatch = Object.create(null)
  // @ts-expect-error a method of the decorator cannot be replaced
  app.serverWatch.snapshot = () => snapshot
  // @ts-expect-error an alert rule's severity is degraded or unhealthy
  await app.register(serverWatch, { alerts: { rules: [{ name: 'x', metric: 'cpu.processPercent', above: 1, severity: 'critical' }] } })
  // @ts-expect-error token is a string or a list of strings
  await app.register(serverWatch, { token: 42 })

  // Coded errors are exported, and are Errors with a code.
  const error: Error & { code: string } = new FST_SERVER_WATCH_INVALID_OPTION('token', 'a string', 'a number')
  return { options, withLocal, badLocal, rate, transitions, error, withBreakdown, badBreakdown, endpointShare }
}
