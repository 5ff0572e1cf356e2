// What a scrape of /metrics and a dashboard stream frame cost as the app's routes grow.
//
//   node benchmark/scrape.js [path to the plugin's dist/plugin.js]   (BENCH_SCRAPE_ROUTES, default 20,200,1000)
//
// For each route count, a server process (this script with --serve) with that many routes, each answered once
// with 200, 302, 404 and 500 (four status classes), default options (maxRoutes 200), sampling only when told.
// Five times: a sample (`refresh()`), then one scrape, then ten concurrent scrapes, each over a real socket; the
// figure is the server's CPU (user + system, from process.cpuUsage() over IPC) for each, the median of the five.
// Also the size of a dashboard stream frame with and without the endpoint table, and what ten open streams add
// to the server's CPU per sample (see streamCost), to set against one scrape.
import { fork } from 'node:child_process'
import http from 'node:http'
import { fileURLToPath, pathToFileURL } from 'node:url'
import Fastify from 'fastify'
import { PLUGIN_BUILD, isMain, log, median } from './common.js'

async function serve (pluginPath, routes) {
  const { default: serverWatch } = await import(pathToFileURL(pluginPath).href)
  const app = Fastify({ logger: false })
  await app.register(serverWatch, { sampleIntervalMs: 3_600_000 })
  for (let k = 0; k < routes; k++) {
    app.get(`/r${k}`, (request, reply) => { reply.code(Number(request.query.s)).send('x') })
  }
  await app.listen({ host: '127.0.0.1', port: 0 })
  const url = `http://127.0.0.1:${app.server.address().port}`
  for (let k = 0; k < routes; k++) {
    for (const s of [200, 302, 404, 500]) await fetch(`${url}/r${k}?s=${s}`, { redirect: 'manual' }).then((r) => r.arrayBuffer())
  }
  process.on('message', async (message) => {
    if (message === 'refresh') await app.serverWatch.refresh()
    if (message === 'close') await app.close()
    const snapshot = app.serverWatch.snapshot()
    const { user, system } = process.cpuUsage()
    process.send({
      cpuUs: user + system,
      frameBytes: Buffer.byteLength(JSON.stringify({ snapshot })),
      liteFrameBytes: Buffer.byteLength(JSON.stringify({ snapshot: { ...snapshot, application: { ...snapshot.application, endpoints: undefined } } }))
    }, () => { if (message === 'close') process.exit(0) })
  })
  process.send({ url })
}

async function measure (pluginPath, routes) {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', pluginPath, String(routes)])
  const ask = (message) => new Promise((resolve) => {
    child.once('message', resolve)
    if (message !== null) child.send(message)
  })
  const { url } = await ask(null)
  const scrape = () => fetch(`${url}/metrics`).then((r) => r.arrayBuffer())
  const first = []
  const ten = []
  let bytes = 0
  for (let round = 0; round < 5; round++) {
    await ask('refresh')
    const before = await ask('cpu')
    bytes = (await scrape()).byteLength
    const between = await ask('cpu')
    await Promise.all(Array.from({ length: 10 }, scrape))
    const after = await ask('cpu')
    first.push((between.cpuUs - before.cpuUs) / 1000)
    ten.push((after.cpuUs - between.cpuUs) / 1000)
  }
  const streams = await streamCost(url, ask)
  const { frameBytes, liteFrameBytes } = await ask('close')
  return { routes, bytes, firstScrapeCpuMs: median(first), tenScrapesCpuMs: median(ten), frameBytes, liteFrameBytes, ...streams }
}

const STREAMS = 10
const STREAM_SAMPLES = 20

/**
 * The server's CPU per sample (`refresh()`, one request counted before each, so that the endpoint table counts as
 * changed), first with no stream open, then with ten: the difference is what ten streams cost per sample, to set
 * against one scrape. The mean over 20 samples, since the table goes out on every 5th sample only.
 */
async function streamCost (url, ask) {
  const perSample = async () => {
    const cpu = []
    for (let i = 0; i < STREAM_SAMPLES; i++) {
      await fetch(`${url}/r0?s=200`).then((r) => r.arrayBuffer())
      const before = await ask('cpu')
      await ask('refresh')
      const after = await ask('cpu')
      cpu.push((after.cpuUs - before.cpuUs) / 1000)
    }
    return cpu.reduce((sum, ms) => sum + ms, 0) / cpu.length
  }
  const withoutMs = await perSample()
  let streamBytes = 0
  const requests = await Promise.all(Array.from({ length: STREAMS }, () => new Promise((resolve, reject) => {
    const request = http.get(`${url}/dashboard/api/stream`, (response) => {
      response.on('data', (chunk) => { streamBytes += chunk.length })
      response.once('data', () => resolve(request))
    })
    request.on('error', reject)
  })))
  const first = streamBytes
  const withMs = await perSample()
  const bytesPerSample = (streamBytes - first) / STREAM_SAMPLES
  for (const request of requests) request.destroy()
  return { sampleCpuMs: withoutMs, sampleWithStreamsCpuMs: withMs, streamsCpuMsPerSample: withMs - withoutMs, streamBytesPerSample: bytesPerSample }
}

export async function runScrape (pluginPath = PLUGIN_BUILD) {
  const counts = (process.env.BENCH_SCRAPE_ROUTES ?? '20,200,1000').split(',').map(Number)
  const results = []
  for (const routes of counts) {
    const r = await measure(pluginPath, routes)
    results.push(r)
    log(`${String(routes).padStart(5)} routes  /metrics ${(r.bytes / 1024).toFixed(0).padStart(6)} kB  server CPU: first scrape after a sample ${r.firstScrapeCpuMs.toFixed(1).padStart(6)} ms, then 10 concurrent ${r.tenScrapesCpuMs.toFixed(1).padStart(6)} ms  stream frame ${(r.frameBytes / 1024).toFixed(1)} kB, without the table ${(r.liteFrameBytes / 1024).toFixed(1)} kB`)
    log(`${' '.repeat(11)}a sample: ${r.sampleCpuMs.toFixed(2)} ms with no stream, ${r.sampleWithStreamsCpuMs.toFixed(2)} ms with ${STREAMS} streams (+${r.streamsCpuMsPerSample.toFixed(2)} ms, ${(r.streamBytesPerSample / 1024).toFixed(1)} kB a sample to them all)`)
  }
  return results
}

if (process.argv[2] === '--serve') {
  await serve(process.argv[3], Number(process.argv[4]))
} else if (isMain(import.meta.url)) {
  console.log(JSON.stringify(await runScrape(process.argv[2]), null, 2))
}
