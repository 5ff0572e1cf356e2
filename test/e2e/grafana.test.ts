import { existsSync, readFileSync } from 'node:fs'
import t from 'tap'
import { buildApp, sleep } from '../helpers/app.js'
import { PROMETHEUS, startPrometheus } from '../helpers/prometheus.js'

interface Panel { title: string, type: string, targets: Array<{ expr: string }> }
const dashboard = JSON.parse(readFileSync(new URL('../../grafana/server-watch.json', import.meta.url), 'utf8')) as {
  uid: string
  panels: Panel[]
  templating: { list: Array<{ name: string, type: string, definition?: string }> }
}

/** What Grafana puts in place of the dashboard's variables with "All" selected and a 1 s scrape interval. */
const expand = (expr: string) => expr.replaceAll('$instance', '.*').replaceAll('$job', '.*').replaceAll('$__rate_interval', '30s')

t.test('the Grafana dashboard: every panel\'s every query returns a number from a real Prometheus that scraped the app', {
  skip: existsSync(PROMETHEUS) || process.env.CI ? false : `${PROMETHEUS} is not installed (apt-get install -y prometheus)`,
  timeout: 90_000
}, async (t) => {
  t.ok(dashboard.panels.length >= 15, `${dashboard.panels.length} panels`)
  t.same(dashboard.templating.list.map((variable) => variable.name), ['datasource', 'job', 'instance'], 'a data source, job and instance selector')
  // A real loop: /metrics serves the last sample's figures, and Prometheus scrapes every second.
  const app = await buildApp({ sampleIntervalMs: 200 })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  const prometheus = await startPrometheus([`127.0.0.1:${port}`])
  const traffic = { on: true }
  t.teardown(async () => {
    traffic.on = false
    await prometheus.close()
    await app.close()
  })
  // Traffic throughout, errors included, and garbage so that GC series exist.
  const load = (async () => {
    for (let i = 0; traffic.on; i++) {
      await fetch(`http://127.0.0.1:${port}/users/${i}`)
      if (i % 5 === 0) await fetch(`http://127.0.0.1:${port}/fail`)
      if (i % 50 === 0) {
        let keep: unknown[] = []
        for (let j = 0; j < 100_000; j++) keep.push({ j })
        keep = []
      }
      await sleep(50)
    }
  })()
  // Enough scrapes for every rate() window.
  const deadline = Date.now() + 40_000
  while (Date.now() < deadline) {
    const scrapes = await prometheus.query('count_over_time(up{job="app"}[1m])')
    if (Number(scrapes[0]?.value[1]) >= 6) break
    await sleep(500)
  }

  for (const panel of dashboard.panels) {
    t.ok(panel.targets.length > 0, `${panel.title}: has queries`)
    for (const { expr } of panel.targets) {
      const result = await prometheus.query(expand(expr))
      const numbers = result.filter((series) => Number.isFinite(Number(series.value[1])))
      t.ok(numbers.length > 0, `${panel.title}: ${expr} returns ${result.length} series, ${numbers.length} with a number`)
    }
  }
  const instances = await fetch(`${prometheus.base}/api/v1/label/instance/values?match[]=server_watch_info`).then((response) => response.json()) as { data: string[] }
  t.same(instances.data, [`127.0.0.1:${port}`], 'the instance selector lists the app')
  if (t.passing() === false) t.comment(`Prometheus log tail:\n${prometheus.logs().slice(-2000)}`)
  traffic.on = false
  await load
})
