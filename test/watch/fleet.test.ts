// lib/watch/fleet.ts and its two implementations: one process (its own figures), and shared mode
// (lib/shared/watch.ts), with several watches of one app sharing a directory in this process.
import { mkdirSync, rmSync } from 'node:fs'
import { test } from 'tap'
import { History } from '../../lib/history.js'
import { RequestMetrics } from '../../lib/requests/store.js'
import type { HealthSnapshot } from '../../lib/schemas/health.js'
import type { Gauges, HistoryPoint } from '../../lib/schemas/history.js'
import { singleProcess } from '../../lib/watch/fleet.js'
import { buildWatch, tempDir } from '../helpers/watch.js'

test('issue 27: the single-process fleet returns this process\'s own figures and never builds what it would share', async (t) => {
  const history = new History(new RequestMetrics(10, 10, 100), 1000, 0)
  const fleet = singleProcess(history)
  const point = { t: 1 } as unknown as HistoryPoint
  t.equal(fleet.record(1000, { gauges: {} as Gauges, point, local: () => { throw new Error('built') } }), point)
  t.equal(fleet.status('degraded'), 'degraded')
  const own = { status: 'healthy' } as HealthSnapshot
  t.equal(fleet.snapshot(own), own)
  t.equal(fleet.view(), null)
  t.equal(fleet.processSeries('x'), null)
  t.equal(fleet.history, history)
  t.doesNotThrow(() => fleet.close(() => { throw new Error('built') }))
})

test('issue 27: shared mode: /health\'s status is the fleet\'s worst, readiness\'s the process\'s own', async (t) => {
  const dir = tempDir(t)
  const { watch: healthy } = buildWatch(t, { shared: { dir, name: 'shop' } })
  const { watch: failing } = buildWatch(t, { shared: { dir, name: 'shop' }, checks: { db: () => { throw new Error('down') } } })
  await failing.sample()
  await healthy.sample()
  t.equal(healthy.ownStatus(), 'healthy', 'readiness: this process')
  t.equal(healthy.status(), 'unhealthy', '/health: the worst live process')
  t.equal(healthy.snapshot().status, 'unhealthy')
  t.equal(healthy.snapshot().processes?.length, 2)
  t.equal(healthy.snapshot().fleet?.processes, 2)
  t.equal(failing.ownStatus(), 'unhealthy')
  t.equal(healthy.history, healthy.fleet.history, 'the charts are the fleet\'s history')
})

test('issue 27: shared mode: the directory failing at run time logs once and the sample goes on with this process\'s point', async (t) => {
  const dir = tempDir(t)
  const { watch, warnings } = buildWatch(t, { shared: { dir, name: 'shop' } })
  const points: HistoryPoint[] = []
  watch.onSample((point) => points.push(point))
  await watch.sample()
  t.equal(watch.snapshot().processes?.length, 1)
  rmSync(dir, { recursive: true, force: true })
  watch.requests.record(watch.requests.notFound, 404, 1)
  await watch.sample()
  await watch.sample()
  t.equal(points.length, 3, 'every sample reached the listeners')
  t.equal(warnings.filter((message) => message.includes('the shared directory failed')).length, 1, 'one warning, not one per sample')
  t.equal(watch.snapshot().application.totalRequests, 1, 'this process\'s requests')
  mkdirSync(dir)
  await watch.sample()
  t.equal(watch.snapshot().processes?.length, 1, 'the fleet back with its directory')
})

test('issue 27: shared mode: close writes the last sample, so the requests since it are counted by the others', async (t) => {
  const dir = tempDir(t)
  const { watch: leaving } = buildWatch(t, { shared: { dir, name: 'shop' } })
  const { watch: staying } = buildWatch(t, { shared: { dir, name: 'shop' } })
  await leaving.sample()
  const users = leaving.requests.endpointFor('GET', '/users')
  for (let i = 0; i < 3; i++) leaving.requests.record(users, 200, 5)
  leaving.close()
  await staying.sample()
  t.equal(staying.snapshot().application.totalRequests, 3, 'the three requests after the last sample, written on close')
})
