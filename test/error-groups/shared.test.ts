// Error groups in a shared directory (lib/error-groups/shared.ts, index.ts): several processes' groups merged
// exactly, kept across a restart with their ids, folded when a process is gone; error.new once per group per
// release across the fleet. Each "process" is a createErrorGroups() with its own id on one directory; times are given.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync, utimesSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { createErrorGroups, NO_ERROR_GROUPS } from '../../lib/error-groups/index.js'
import { RETIRE_AFTER_MS } from '../../lib/error-groups/shared.js'
import { sanitize } from '../../lib/shared/names.js'

const T0 = Date.UTC(2026, 11, 6, 12)

function processOn (dir: string, id: string, release: string | null = 'v1', warnings: string[] = []) {
  return createErrorGroups({
    maxGroups: 100,
    release,
    maxMessageLength: 200,
    shared: { dir, app: 'shop', id },
    who: { hostname: 'h', pid: Number(id.replace(/\D/g, '')) || 1 },
    log: { warn: (msg) => warnings.push(msg) }
  })
}

/** An error thrown in `fn` of routes.js (its stack as V8 writes it). */
function thrownIn (fn: string, message: string): Error {
  const error = new Error(message)
  error.stack = `Error: ${message}\n    at ${fn} (${process.cwd()}/routes.js:3:9)\n    at preHandler (${process.cwd()}/node_modules/fastify/lib/x.js:1:1)`
  return error
}

test('issue 28: four processes in shared mode merge to exact totals, and error.new is raised once for the fleet', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-errors-'))
  const processes = [1, 2, 3, 4].map((n) => processOn(dir, `h_${n}_0_0`))
  const events: string[][] = []
  // Process 1 sees the error first and raises error.new; its file tells the others, which then do not.
  processes[0]!.record(thrownIn('getUser', 'user 1 not found'), 'GET /users/:id', 404)
  events.push(processes[0]!.sample(T0).map((e) => `${e.type} ${e.group.name} ${e.group.count}`))
  processes.forEach((p, i) => {
    for (let k = 0; k < 10 * (i + 1); k++) p.record(thrownIn('getUser', `user ${k} not found`), `GET /p${i}`, 404)
    p.record(thrownIn('saveOrder', 'order lost'), 'POST /orders', 500)
  })
  processes.forEach((p, i) => { if (i > 0) events.push(p.sample(T0 + 1000).map((e) => `${e.type} ${e.group.name} ${e.group.count}`)) })
  t.same(events, [['error.new Error 1'], ['error.new Error 1'], [], []],
    'getUser once (process 1); saveOrder by process 2, which wrote first; 3 and 4 read that it was raised')
  for (const p of processes) p.close(T0 + 2000)
  const reader = processOn(dir, 'h_9_0_0')
  reader.sample(T0 + 3000)
  const groups = reader.view(T0 + 3000)
  t.same(groups.map((g) => [g.count, g.endpoints]).sort((a, b) => (a[0] as number) - (b[0] as number)), [
    [4, { 'POST /orders': 4 }],
    [1 + 10 + 20 + 30 + 40, { 'GET /users/:id': 1, 'GET /p0': 10, 'GET /p1': 20, 'GET /p2': 30, 'GET /p3': 40 }]
  ])
})

test('issue 28: groups survive a restart of every process with the same ids and counts, and no second error.new', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-errors-'))
  const before = processOn(dir, 'h_1_0_0')
  for (let k = 0; k < 5; k++) before.record(thrownIn('getUser', `user ${k} not found`), 'GET /users/:id', 404)
  t.equal(before.sample(T0).length, 1)
  before.close(T0 + 1000)
  const ids = before.view(T0).map((g) => g.id)

  const after = processOn(dir, 'h_2_0_0')
  after.sample(T0 + 60_000)
  t.same(after.view(T0 + 60_000).map((g) => [g.id, g.count]), [[ids[0], 5]])
  after.record(thrownIn('getUser', 'user 9 not found'), 'GET /users/:id', 404)
  t.same(after.sample(T0 + 61_000), [], 'raised in this release before the restart')
  t.same(after.view(T0 + 61_000).map((g) => [g.id, g.count]), [[ids[0], 6]])

  // A new release: raised again, once.
  const next = processOn(dir, 'h_3_0_0', 'v2')
  next.sample(T0 + 62_000)
  next.record(thrownIn('getUser', 'user 9 not found'), 'GET /users/:id', 404)
  t.same(next.sample(T0 + 63_000).map((e) => [e.type, e.release, e.group.id]), [['error.new', 'v2', ids[0]]])
})

test('issue 28: the files of processes gone are folded into one, counts unchanged', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-errors-'))
  for (const n of [1, 2, 3]) {
    const p = processOn(dir, `h_${n}_0_0`)
    for (let k = 0; k < n; k++) p.record(thrownIn('getUser', 'x'), 'GET /u', 500)
    p.close(T0)
  }
  const old = (Date.now() - RETIRE_AFTER_MS - 1000) / 1000
  for (const n of [1, 2]) utimesSync(join(dir, `shop~e~h_${n}_0_0.json`), old, old)
  const leader = processOn(dir, 'h_4_0_0')
  leader.record(thrownIn('getUser', 'x'), 'GET /u', 500)
  leader.sample(T0)
  leader.persist(Date.now())
  t.same(readdirSync(dir).filter((name) => !name.startsWith('.')).sort(), ['shop~errors.json', 'shop~e~h_3_0_0.json', 'shop~e~h_4_0_0.json'])
  leader.sample(T0 + 1000)
  t.same(leader.view(T0 + 1000).map((g) => g.count), [1 + 2 + 3 + 1])
  t.equal(processOn(dir, 'h_5_0_0').sample(T0 + 2000).length, 0)
})

test('the file of a process of this host that no longer runs is folded at once, a running one\'s is kept', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sw-errors-'))
  const host = sanitize(hostname())
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid!
  for (const pid of [deadPid, process.pid]) {
    const p = processOn(dir, `${host}_${pid}_0_0`)
    p.record(thrownIn('getUser', 'x'), 'GET /u', 500)
    p.close(T0)
  }
  const leader = processOn(dir, 'h_4_0_0')
  leader.sample(T0)
  leader.persist(Date.now())
  t.same(readdirSync(dir).filter((name) => !name.startsWith('.')).sort(),
    ['shop~errors.json', `shop~e~${host}_${process.pid}_0_0.json`, 'shop~e~h_4_0_0.json'].sort(), 'the dead pid\'s file folded, not ten minutes later')
  leader.sample(T0 + 1000)
  t.same(leader.view(T0 + 1000).map((g) => g.count), [2], 'its count kept')
})

test('issue 28: maxErrorGroups 0 turns the groups off: nothing recorded, nothing written', async (t) => {
  t.equal(createErrorGroups({ maxGroups: 0, release: null, maxMessageLength: 200, shared: null, who: { hostname: 'h', pid: 1 }, log: { warn () {} } }), NO_ERROR_GROUPS)
  NO_ERROR_GROUPS.record(new Error('x'), 'GET /', 500)
  t.same(NO_ERROR_GROUPS.view(T0), [])
})
