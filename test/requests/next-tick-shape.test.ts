// lib/requests/next-tick-shape.ts: importing the plugin keeps process.nextTick's maps alive, so that a full
// collection on an idle server cannot put every later nextTick on V8's runtime path (benchmark/README.md,
// "nextTick's maps"). Each case runs in its own process, with V8's natives syntax to read nextTick's feedback.
import { spawnSync } from 'node:child_process'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'
import { tempDir } from '../helpers/watch.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/**
 * The states of nextTick's keyed-definition feedback after: (the plugin imported, or not), a thousand ticks, a full
 * collection at a moment when no tick object is alive (what V8's memory reducer does on an idle server), and a
 * thousand ticks more. Semicolons throughout: `%DebugPrint` after a line without one would parse as a remainder.
 */
function feedbackAfterAnIdleCollection (t: Parameters<typeof tempDir>[0], importPlugin: boolean): string[] {
  const script = `
    ${importPlugin ? "await import('fastify-server-watch');" : ''}
    const tick = () => new Promise((resolve) => process.nextTick(resolve));
    for (let i = 0; i < 1000; i++) await tick();
    await new Promise((resolve) => setImmediate(resolve));
    globalThis.gc();
    for (let i = 0; i < 1000; i++) await tick();
    %DebugPrint(process.nextTick);
  `
  // Into a file, not a pipe: V8 prints through C's stdio, and read through a pipe under tap its output came back
  // cut short at times.
  const file = join(tempDir(t), 'out')
  const out = openSync(file, 'w')
  // Without the coverage tap collects: with it V8 gives every function its feedback at the first call, which
  // records nextTick's first maps before Node's start-up has settled them, megamorphic with or without the plugin
  // (as with --no-lazy-feedback-allocation); a process runs with feedback allocated lazily. Through env(1), since
  // tap puts its coverage back into the environment of any process a test spawns.
  const child = spawnSync('env', ['-u', 'NODE_OPTIONS', '-u', 'NODE_V8_COVERAGE', process.execPath, '--allow-natives-syntax', '--expose-gc', '--input-type=module', '-e', script], {
    cwd: ROOT,
    stdio: ['ignore', out, 'pipe'],
    encoding: 'utf8'
  })
  closeSync(out)
  if (child.status !== 0) throw new Error(`the child exited with ${String(child.status)}: ${child.stderr}`)
  return [...readFileSync(file, 'utf8').matchAll(/DefineKeyedOwnPropertyInLiteral (\w+)/g)].map((match) => match[1]!)
}

test('importing the plugin keeps nextTick\'s feedback monomorphic through a full collection with no tick alive', (t) => {
  const alone = feedbackAfterAnIdleCollection(t, false)
  const withPlugin = feedbackAfterAnIdleCollection(t, true)
  // Node 20's tick literal defines two symbol keys and two named ones: four sites (another Node's may define more).
  t.ok(alone.length >= 4, `the feedback of nextTick is printed (${alone.join(', ')})`)
  t.equal(withPlugin.length, alone.length)
  // The control: what a process without the plugin gets. Should a Node version no longer lose the maps, the check
  // below would pass without the plugin's help, and says so instead.
  if (!alone.includes('MEGAMORPHIC')) {
    t.comment(`Node ${process.version} keeps nextTick's maps by itself: nothing for the plugin to protect`)
  } else {
    t.notOk(withPlugin.includes('MEGAMORPHIC'), `with the plugin imported: ${withPlugin.join(', ')}`)
  }
  t.end()
})
