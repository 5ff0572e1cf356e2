/**
 * `npm run screenshots`: the README's pictures (docs/screenshots/dashboard-desktop.png and -phone.png, light) and
 * every variant in test/artifacts/ (light and dark, the viewport and the full page), taken from the demo app with a
 * MongoDB after a steady run of traffic. Not part of `npm test`, which writes no files.
 * SCREENSHOTS_WARMUP_MS (default 120000): how long the traffic runs first, so that the charts show minutes of it.
 */
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromiumMissing, DASHBOARD_SHOTS, launchBrowser, openLiveDashboard } from './helpers/browser.js'
import { sleep, startDemo, startTraffic } from './helpers/demo.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const ARTIFACTS = join(ROOT, 'test', 'artifacts')
const SCREENSHOTS = join(ROOT, 'docs', 'screenshots')
const WARMUP_MS = Number(process.env.SCREENSHOTS_WARMUP_MS ?? 120_000)

const missing = chromiumMissing()
if (missing !== null) throw new Error(`cannot take screenshots: ${missing}`)

const cleanups: Array<() => unknown> = []
const scope = { teardown (fn: () => unknown) { cleanups.push(fn) } }
try {
  mkdirSync(ARTIFACTS, { recursive: true })
  mkdirSync(SCREENSHOTS, { recursive: true })
  const session = await launchBrowser()
  scope.teardown(() => session.close())
  const demo = await startDemo(scope, { sampleIntervalMs: 1000 }, true)
  const stopTraffic = startTraffic(demo, 45)
  scope.teardown(stopTraffic)
  await demo.hit('GET', '/fail')
  await demo.hit('POST', '/login', {})
  console.log(`traffic for ${WARMUP_MS / 1000} s before the pictures (SCREENSHOTS_WARMUP_MS)`)
  await sleep(WARMUP_MS)

  const written: string[] = []
  for (const shot of DASHBOARD_SHOTS) {
    for (const colorScheme of ['light', 'dark'] as const) {
      const watched = await openLiveDashboard(session, demo.dashboard, { ...shot, colorScheme })
      const { page } = watched
      // The charts animate their first draw.
      await sleep(300)
      const paths = [join(ARTIFACTS, `dashboard-${shot.name}-${colorScheme}.png`)]
      await page.screenshot({ path: paths[0] })
      paths.push(join(ARTIFACTS, `dashboard-${shot.name}-${colorScheme}-full.png`))
      await page.screenshot({ path: paths[1], fullPage: true })
      if (colorScheme === 'light') {
        paths.push(join(SCREENSHOTS, `dashboard-${shot.name}.png`))
        await page.screenshot({ path: paths[2] })
      }
      if (watched.problems.length > 0) throw new Error(`${shot.name} ${colorScheme}: ${watched.problems.join('; ')}`)
      await watched.context.close()
      written.push(...paths)
    }
  }
  for (const path of written) console.log(`wrote ${path.slice(ROOT.length)}`)
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup()
}
