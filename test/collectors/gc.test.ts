// The GC collector (lib/collectors/gc.ts): collections by kind, on only while /metrics is, disconnected on close.
import { PerformanceObserver } from 'node:perf_hooks'
import t from 'tap'
import { createGcCollector as createGcStats } from '../../lib/collectors/gc.js'
import { buildApp } from '../helpers/app.js'
import { collectGarbage, until } from '../helpers/time.js'

t.test('the GC observer counts collections by kind and stops on close', async (t) => {
  const gc = createGcStats()
  const garbage = () => {
    let keep: unknown[] = []
    for (let i = 0; i < 200_000; i++) keep.push({ i })
    keep = []
    return keep.length
  }
  const total = () => [...gc.byKind.values()].reduce((sum, histogram) => sum + histogram.count, 0)
  await until(() => garbage() === 0 && total() > 0, 'a garbage collection to be observed')
  t.ok(total() > 0, `${total()} collections seen`)
  t.ok([...gc.byKind.keys()].every((kind) => ['major', 'minor', 'incremental', 'weakcb', 'other'].includes(kind)))
  gc.close()
  const after = total()
  // A collection seen by an observer of our own: the closed one would have been told of it too.
  await collectGarbage()
  t.equal(total(), after, 'nothing recorded after close')
})

t.test('the GC observer exists only while /metrics is on and is disconnected on app.close()', async (t) => {
  const { observe, disconnect } = PerformanceObserver.prototype
  let observing = 0
  t.teardown(() => Object.assign(PerformanceObserver.prototype, { observe, disconnect }))
  PerformanceObserver.prototype.observe = function (this: PerformanceObserver, ...args: Parameters<typeof observe>) {
    observing++
    return observe.apply(this, args)
  }
  PerformanceObserver.prototype.disconnect = function (this: PerformanceObserver) {
    observing--
    return disconnect.call(this)
  }
  // The heap trend (memory.process.heapTrend) has its own observer, whatever the routes.
  const HEAP_TREND = 1
  const off = await buildApp({ metricsPath: false })
  await off.ready()
  t.equal((await off.inject('/metrics')).statusCode, 404)
  t.equal(observing, HEAP_TREND, 'metricsPath: false adds no observer')
  await off.close()
  t.equal(observing, 0)
  const moved = await buildApp({ metricsPath: '/prom', prefix: '/ops' })
  await moved.ready()
  t.equal((await moved.inject('/ops/prom')).statusCode, 200, 'a custom path under a prefix')
  t.equal(observing, HEAP_TREND + 1)
  await moved.close()
  t.equal(observing, 0, 'disconnected on close')
})
