/**
 * A real Prometheus server (Debian's /usr/bin/prometheus) that scrapes the given targets every second, with its
 * query API: for the tests that check what Prometheus itself makes of /metrics.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MetricsRead } from '../../lib/prometheus/read.js'
import { RequestMetrics } from '../../lib/requests/store.js'

export const PROMETHEUS = '/usr/bin/prometheus'
export const PROMTOOL = '/usr/bin/promtool'

/** Every sample line of `metric` in an exposition, as `labels -> value`. */
export function samples (text: string, metric: string): Map<string, number> {
  const found = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue
    const space = line.lastIndexOf(' ')
    found.set(line.slice(metric.length, space), Number(line.slice(space + 1)))
  }
  return found
}

/** `promtool check metrics` on an exposition: its exit status and what it said. */
export function promtool (text: string) {
  const result = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' })
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() }
}

export interface Series { metric: Record<string, string>, value: [number, string] }

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

export async function startPrometheus (targets: string[], job = 'app') {
  const dir = await mkdtemp(join(tmpdir(), 'server-watch-prometheus-'))
  const port = await freePort()
  const config = [
    'global:', '  scrape_interval: 1s', '  scrape_timeout: 1s',
    'scrape_configs:', `  - job_name: ${job}`, '    metrics_path: /metrics', '    static_configs:',
    `      - targets: [${targets.map((target) => `'${target}'`).join(', ')}]`
  ].join('\n')
  await writeFile(join(dir, 'prometheus.yml'), `${config}\n`)
  let logs = ''
  const child: ChildProcess = spawn(PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout!.on('data', (chunk) => { logs += chunk })
  child.stderr!.on('data', (chunk) => { logs += chunk })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const base = `http://127.0.0.1:${port}`

  /** An instant query: its series, or [] while Prometheus is not answering yet. */
  async function query (promql: string): Promise<Series[]> {
    try {
      const response = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`)
      const body = await response.json() as { status: string, data: { result: Series[] } }
      return body.status === 'success' ? body.data.result : []
    } catch {
      return []
    }
  }

  return {
    base,
    query,
    logs: () => logs,
    async close (): Promise<void> {
      child.kill('SIGTERM')
      const killer = setTimeout(() => child.kill('SIGKILL'), 5000)
      await exited
      clearTimeout(killer)
      await rm(dir, { recursive: true, force: true })
    }
  }
}

/** A read model for renderMetrics with nothing but what a test gives (no runtime figures, spaces, GC or fleet). */
export function readOf (given: Partial<MetricsRead> & Pick<MetricsRead, 'snapshot'>): MetricsRead {
  return {
    requests: new RequestMetrics(10, 10, 100),
    statusCode: false,
    runtime: null,
    heapSpaces: [],
    gc: null,
    alerts: null,
    fleet: null,
    ...given
  }
}

/** Sample lines that name the same series twice (the same name and label set, however ordered): [] when none. */
export function duplicateSeries (text: string): string[] {
  const seen = new Set<string>()
  const duplicates: string[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([^{ ]+)(?:\{(.*)\})? \S+$/.exec(line)
    if (match === null) continue
    const pairs = (match[2] ?? '').match(/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*"/g) ?? []
    // An empty value is the same series as a missing label.
    const key = `${match[1]}{${pairs.filter((pair) => !pair.endsWith('=""')).sort().join(',')}}`
    if (seen.has(key)) duplicates.push(line)
    seen.add(key)
  }
  return duplicates
}
