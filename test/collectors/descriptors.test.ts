import { test, type Test } from 'tap'
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDescriptorWalker } from '../../lib/collectors/descriptors.js'

const quiet = { failed () {}, recovered () {} }

/** A folder shaped like /proc/self/fd: one symlink per descriptor, whose text is what readlink gives. */
function fdFolder (t: Test, targets: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'server-watch-fd-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const add = (from: number, list: string[]) => list.forEach((target, i) => symlinkSync(target, join(dir, String(from + i))))
  add(0, targets)
  return { dir, add }
}

test('many connections do not stall the event loop: descriptors are counted off the loop, in a paced walk', async (t) => {
  const sockets = Array.from({ length: 40 }, (_, i) => `socket:[${1000 + i}]`)
  const { dir, add } = fdFolder(t, ['/dev/null', '/dev/pts/0', 'pipe:[7]', 'anon_inode:[eventpoll]', '/proc/1/stat', '/var/log/app.log', '/srv/data.db', ...sockets])
  const clock = { now: 0 }
  const walker = createDescriptorWalker({ dir, now: () => clock.now, failures: quiet })
  t.same(walker.read(), { openFiles: null, connections: null, descriptors: null }, 'nothing before the first walk')

  const first = walker.sample()
  // The regression: the old collector read every link synchronously inside sample(), a stall that grew with
  // the number of sockets (176 ms at 15,000).
  t.same(walker.read(), { openFiles: null, connections: null, descriptors: null }, 'sample() returns before reading a single link')
  t.ok(first instanceof Promise, 'the first walk can be awaited')
  clock.now = 10 // the walk took 10 ms
  await first
  t.same(walker.read(), { openFiles: 2, connections: 40, descriptors: 47 }, 'regular files and sockets; devices, pipes, /proc and anon inodes are neither; every descriptor counted')

  add(100, ['socket:[5000]', '/srv/other.db'])
  t.equal(walker.sample(), undefined, 'later walks are not waited for')
  clock.now = 500
  t.equal(walker.sample(), undefined)
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(walker.read(), { openFiles: 2, connections: 40, descriptors: 47 }, 'no new walk before 99 times the last one\'s duration has passed')
  clock.now = 1000
  walker.sample()
  t.equal(walker.sample(), undefined, 'never two walks at once')
  await walker.settled()
  t.same(walker.read(), { openFiles: 3, connections: 41, descriptors: 49 }, 'the next walk sees the change')
  walker.close()
})

test('the loop runs between batches of 64 links, and the walk wakes no thread of the pool', async (t) => {
  const { dir } = fdFolder(t, Array.from({ length: 300 }, (_, i) => `socket:[${i}]`))
  const walker = createDescriptorWalker({ dir, now: () => 0, failures: quiet })
  t.teardown(() => walker.close())
  // Counts the loop's turns while the walk runs: one synchronous pass over 300 links would give it none.
  let turns = 0
  let walking = true
  const spin = () => { if (walking) { turns++; setImmediate(spin) } }
  setImmediate(spin)
  await walker.sample()
  walking = false
  t.same(walker.read(), { openFiles: 0, connections: 300, descriptors: 300 })
  t.ok(turns >= Math.floor(300 / 64), `the loop turned ${turns} times during the walk`)
})

test('a descriptor walk that fails reports null and tells its collector', async (t) => {
  const failed: unknown[] = []
  let recovered = 0
  const walker = createDescriptorWalker({
    dir: join(tmpdir(), 'server-watch-no-such-folder'),
    now: () => 0,
    failures: { failed: (error) => failed.push(error), recovered: () => recovered++ }
  })
  await walker.sample()
  t.match(failed, [{ code: 'ENOENT' }], 'reported once')
  t.equal(recovered, 0)
  t.same(walker.read(), { openFiles: null, connections: null, descriptors: null })
  walker.close()
})

test('close() stops a walk in progress', async (t) => {
  const { dir } = fdFolder(t, Array.from({ length: 300 }, (_, i) => `socket:[${i}]`))
  const walker = createDescriptorWalker({ dir, now: () => 0, failures: quiet })
  const walk = walker.sample()
  walker.close()
  await walk
  t.same(walker.read(), { openFiles: null, connections: null, descriptors: null }, 'a walk cut short reports nothing')
})
