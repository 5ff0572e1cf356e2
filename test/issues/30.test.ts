import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { test } from 'tap'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** `tap <fixture>` as `npm test` runs it (the package.json "tap" config, no -R), on CI (no colours, no redraws). */
function runTap (fixture: string): { status: number | null, lines: string[] } {
  // Without the outer run's variables, which would make the inner tap a child of this one (or its coverage ours).
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(TAP|_TAPJS|NODE_OPTIONS$|NODE_V8_COVERAGE$)/.test(name)))
  // In a project of its own: a tap run in this one starts by clearing its .tap folder, where the outer run keeps
  // the coverage of the files that ran before this one (lost coverage made the thresholds fail).
  const dir = mkdtempSync(join(tmpdir(), 'sw-reporter-'))
  const { tap } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { tap: Record<string, unknown> }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'reporter-fixture', type: 'module', tap }))
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'))
  mkdirSync(join(dir, 'test/fixtures/reporter'), { recursive: true })
  copyFileSync(join(ROOT, 'test/fixtures/reporter', fixture), join(dir, 'test/fixtures/reporter', fixture))
  const result = spawnSync(process.execPath, [
    join(ROOT, 'node_modules/.bin/tap'), '--disable-coverage', '--include', 'test/fixtures/reporter/*.ts', `test/fixtures/reporter/${fixture}`
  ], { cwd: dir, env: { ...env, CI: 'true' }, encoding: 'utf8' })
  rmSync(dir, { recursive: true, force: true })
  // eslint-disable-next-line no-control-regex
  const text = (result.stdout + result.stderr).replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
  return { status: result.status, lines: text.split('\n').filter((line) => line.trim() !== '') }
}

test('issue 30.8: npm test\'s reporter is terse: a passing file prints a summary, not a line per assertion', async (t) => {
  const { status, lines } = runTap('passing.ts')
  t.equal(status, 0)
  t.ok(lines.some((line) => /Asserts:\s+1000 pass\s+0 fail/.test(line)), lines.join('\n'))
  t.ok(lines.length < 10, `${lines.length} lines for 1,000 assertions`)
})

test('issue 30.8: under it a failure still shows in full: the source, the diff and the stack', async (t) => {
  const { status, lines } = runTap('failing.ts')
  t.equal(status, 1)
  const text = lines.join('\n')
  t.match(text, /FAIL\s+test\/fixtures\/reporter\/failing\.ts 1 failed of 1/)
  t.match(text, 'a deliberate failure > the counts differ')
  t.match(text, "t.same({ route: '/users/:id', count: 3 }", 'the failing line of source')
  t.match(text, /--- expected\n\s*\+\+\+ actual/, 'the diff')
  t.match(text, /-\s+"count": 4,\n\s*\+\s+"count": 3,/, 'expected and actual')
  t.match(text, 'failing.ts:5:5', 'where it failed')
})
