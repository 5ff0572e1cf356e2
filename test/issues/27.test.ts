import { test } from 'tap'
import { buildApp } from '../helpers/app.js'
import { withEnv } from '../helpers/env.js'
import { fakeClock } from '../helpers/time.js'

test('issue 27: buildApp starts no real loop by default: after the first sample, only refresh() samples', async (t) => {
  const clock = fakeClock(t)
  let samples = 0
  const app = await buildApp({ checks: { counted: () => { samples++ } } })
  t.teardown(() => app.close())
  await app.ready()
  await app.serverWatch.refresh()
  const started = samples
  t.ok(started >= 1, 'the start sample ran')
  // A 50 ms loop would have sampled 1,200 times in a minute.
  await clock.tickAsync(60_000)
  t.equal(samples, started, 'no sample came from the loop')
  await app.serverWatch.refresh()
  t.equal(samples, started + 1, 'refresh() takes one')
})

test('issue 27: withEnv sets and unsets variables, then restores them; an absent one is deleted, not "undefined"', async (t) => {
  const A = 'SERVER_WATCH_TEST_ABSENT'
  const B = 'SERVER_WATCH_TEST_PRESENT'
  delete process.env[A]
  process.env[B] = 'before'
  t.teardown(() => { delete process.env[B] })
  const seen = await withEnv({ [A]: 'set', [B]: undefined }, () => [process.env[A], Object.hasOwn(process.env, B)])
  t.same(seen, ['set', false], 'inside: A is set, B is unset')
  t.notOk(Object.hasOwn(process.env, A), 'A is absent again (not the string "undefined")')
  t.equal(process.env[B], 'before', 'B is back')

  await t.rejects(withEnv({ [A]: 'set' }, async () => { throw new Error('inside') }), /inside/)
  t.notOk(Object.hasOwn(process.env, A), 'restored after a throw too')
})
