// What `breakdown: true` costs (issue 29): server CPU per request side by side with bare Fastify and with the plugin
// as it is by default (breakdown off), on a route that runs 3 MongoDB commands against the project's wire-protocol
// test server, a route that calls a local HTTP server, and a static route; then the heap per route.
//
//   npm run build && node benchmark/breakdown.js           (about 3 minutes)
//   BENCH_BREAKDOWN_ROUNDS=10 BENCH_BREAKDOWN_DB_RATE=100 node benchmark/breakdown.js   (rates: req/s per server)
//   BENCH_BREAKDOWN_ROUNDS=0 node benchmark/breakdown.js                              (the memory part alone)
//
// Side by side as paired.js measures: the three servers run at the same time on CPU 0, each at the same fixed rate
// from its own load generator (benchmark/load.js), so whatever slows the machine slows all three; the figure is each
// variant's CPU per request over bare Fastify's in the same round, median over the rounds. The MongoDB test server
// and the HTTP target run in one more process, on CPU 1 with the load generators, so that their CPU is no server's.
//
// Roles of this script: (none) the orchestrator; `deps` the MongoDB test server and the HTTP target; `serve <variant>
// <mongoUri> <targetUrl> [routes]` one server (variants: bare, watch, breakdown).
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import { CLOCK_TICK_US, envNumber, isMain, log, median, procStatFields, spread } from './common.js'
import { measureOnce } from './throughput.js'

const SCRIPT = fileURLToPath(import.meta.url)
const VARIANTS = ['bare', 'watch', 'breakdown']
const ROUTES = [
  // req/s per server: three servers share CPU 0, and the driver costs about a millisecond of CPU per command on
  // a busy 2-core machine, so the database route's rate is low.
  { name: 'static', path: '/', rate: envNumber('BENCH_BREAKDOWN_STATIC_RATE', 1000) },
  { name: 'db (3 commands)', path: '/db', rate: envNumber('BENCH_BREAKDOWN_DB_RATE', 80) },
  { name: 'outbound (1 fetch)', path: '/call', rate: envNumber('BENCH_BREAKDOWN_CALL_RATE', 150) }
]
const CONFIG = {
  rounds: envNumber('BENCH_BREAKDOWN_ROUNDS', 6),
  durationS: envNumber('BENCH_DURATION', 3),
  warmupS: envNumber('BENCH_WARMUP', 1),
  connections: envNumber('BENCH_BREAKDOWN_CONNECTIONS', 10),
  memoryRoutes: envNumber('BENCH_BREAKDOWN_MEMORY_ROUTES', 200)
}

const children = new Set()
process.on('exit', () => { for (const child of children) child.kill('SIGKILL') })

/** `node args...` with an IPC channel, pinned to `cpu` with taskset; killed if this process exits first. */
function spawnNode (args, cpu) {
  const child = spawn('taskset', ['-c', String(cpu), process.execPath, ...args], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.add(child)
  child.once('exit', () => children.delete(child))
  return child
}

function message (child, predicate, what) {
  return new Promise((resolve, reject) => {
    const onMessage = (m) => { if (predicate(m)) { child.off('exit', onExit); child.off('message', onMessage); resolve(m) } }
    const onExit = (code) => { child.off('message', onMessage); reject(new Error(`exited (${code}) waiting for ${what}`)) }
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

/** A child that answers `{ id, cmd }` over IPC (the `serve` role), as common.js's startServer does for server.js. */
async function startChild (variant, args, cpu) {
  const child = spawnNode([...(variant === 'deps' ? [] : ['--expose-gc']), SCRIPT, ...args], cpu)
  const ready = await message(child, (m) => m.type === 'listening', `${variant} to listen`)
  let nextId = 0
  async function call (cmd, arg) {
    const id = ++nextId
    const reply = message(child, (m) => m.id === id, cmd)
    child.send({ id, cmd, arg })
    const { ok, value, error } = await reply
    if (!ok) throw new Error(`${variant} ${cmd}: ${error}`)
    return value
  }
  async function stop () {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.send({ id: -1, cmd: 'close' })
    await exited
  }
  return { variant, ...ready, url: ready.port === undefined ? undefined : `http://127.0.0.1:${ready.port}`, call, stop }
}

// --- deps: the wire-protocol test server (test/helpers/mongo-server.ts, transpiled here) and an HTTP target.
async function deps () {
  const ts = (await import('typescript')).default
  const source = readFileSync(new URL('../test/helpers/mongo-server.ts', import.meta.url), 'utf8')
  const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
  const code = outputText.replace(/from 'bson'/g, `from '${import.meta.resolve('bson')}'`)
  const { startMongoServer } = await import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`)
  const mongo = await startMongoServer()
  const target = http.createServer((request, response) => response.end('{"ok":true}'))
  await new Promise((resolve) => target.listen(0, '127.0.0.1', resolve))
  process.on('message', (m) => { if (m.cmd === 'close') process.exit(0) })
  process.on('disconnect', () => process.exit(0))
  process.send({ type: 'listening', mongoUri: mongo.uri, targetUrl: `http://127.0.0.1:${target.address().port}/` })
}

// --- serve: one server.
async function serve (variant, mongoUri, targetUrl, extraRoutes) {
  const { default: Fastify } = await import('fastify')
  const { MongoClient } = await import('mongodb')
  const client = new MongoClient(mongoUri, { monitorCommands: true })
  await client.connect()
  const app = Fastify({ logger: false })
  if (variant !== 'bare') {
    const { default: serverWatch } = await import('../dist/plugin.js')
    await app.register(serverWatch, { mongo: client, ...(variant === 'breakdown' ? { breakdown: true } : {}) })
  }
  const items = client.db('bench').collection('items')
  app.get('/', (request, reply) => { reply.send({ hello: 'world' }) })
  app.get('/db', async () => {
    const item = await items.findOne({ _id: 1 })
    await items.updateOne({ _id: 1 }, { $set: { seen: true } })
    return { item, count: await items.countDocuments({ seen: true }) }
  })
  app.get('/call', async () => (await fetch(targetUrl)).json())
  for (let i = 0; i < extraRoutes; i++) {
    app.get(`/r${i}/:id`, async () => {
      await items.findOne({ _id: i })
      return (await fetch(targetUrl)).json()
    })
  }
  const commands = {
    cpu () {
      const { user, system } = process.cpuUsage()
      const fields = procStatFields('/proc/self/stat')
      const children = (Number(fields[13]) + Number(fields[14])) * CLOCK_TICK_US
      return { user, system, children, wallNs: Number(process.hrtime.bigint()), gcMs: 0, gcCount: 0 }
    },
    // The heap and the typed arrays' backing stores, which live outside it (a route's histograms are typed arrays).
    gc () {
      for (let i = 0; i < 4; i++) globalThis.gc()
      const { heapUsed, arrayBuffers } = process.memoryUsage()
      return heapUsed + arrayBuffers
    },
    async close () {
      await app.close()
      await client.close()
      return {}
    }
  }
  process.on('message', async (m) => {
    let reply
    try {
      reply = { id: m.id, ok: true, value: await commands[m.cmd](m.arg) }
    } catch (error) {
      reply = { id: m.id, ok: false, error: error.message }
    }
    process.send(reply, () => { if (m.cmd === 'close') process.exit(0) })
  })
  process.on('disconnect', () => process.exit(0))
  await app.listen({ host: '127.0.0.1', port: 0 })
  process.send({ type: 'listening', port: app.server.address().port })
}

// --- the orchestrator.
async function cpuRound (round, services) {
  // Started in a rotated order each round, so that no variant is always the first.
  const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length])
  const servers = []
  try {
    for (const variant of order) servers.push(await startChild(variant, ['serve', variant, services.mongoUri, services.targetUrl, '0'], 0))
    const figures = {}
    for (const route of ROUTES) {
      const load = { path: route.path, connections: CONFIG.connections, overallRate: route.rate }
      await Promise.all(servers.map((server) => measureOnce(server, { ...load, duration: CONFIG.warmupS })))
      const measured = await Promise.all(servers.map((server) => measureOnce(server, { ...load, duration: CONFIG.durationS })))
      measured.forEach((m, i) => {
        if (m.failures > 0) log(`  ! ${order[i]} ${route.name}: ${m.failures} failed requests`)
        if (m.reqPerSec < route.rate * 0.97) log(`  ! ${order[i]} ${route.name}: ${Math.round(m.reqPerSec)} of ${route.rate} req/s (saturated)`)
        ;(figures[order[i]] ??= {})[route.name] = m
      })
    }
    return figures
  } finally {
    await Promise.all(servers.map((server) => server.stop()))
  }
}

/**
 * Heap plus array buffers after forced GC, with the plugin as it is and with breakdown on, after one request to each
 * of N extra routes (each runs a query and a fetch): the difference over N is the breakdown's memory per route.
 */
async function memory (services) {
  const heaps = {}
  for (const variant of ['watch', 'breakdown']) {
    const server = await startChild(variant, ['serve', variant, services.mongoUri, services.targetUrl, String(CONFIG.memoryRoutes)], 0)
    try {
      for (let i = 0; i < CONFIG.memoryRoutes; i++) {
        const response = await fetch(`${server.url}/r${i}/1`)
        await response.text()
      }
      heaps[variant] = await server.call('gc')
    } finally {
      await server.stop()
    }
  }
  return { routes: CONFIG.memoryRoutes, heapAndArrayBuffers: heaps, bytesPerRoute: Math.round((heaps.breakdown - heaps.watch) / CONFIG.memoryRoutes) }
}

async function main () {
  const services = await startChild('deps', ['deps'], 1)
  try {
    const rounds = []
    for (let round = 0; round < CONFIG.rounds; round++) {
      const figures = await cpuRound(round, services)
      rounds.push(figures)
      log(`round ${round + 1}/${CONFIG.rounds}: ` + ROUTES.map((route) => `${route.name} ` + VARIANTS.map((v) => figures[v][route.name].cpuPerReqUs.toFixed(1)).join(' / ') + ' µs').join(', '))
    }
    const result = { config: { ...CONFIG, routes: ROUTES }, cpu: {} }
    for (const route of rounds.length === 0 ? [] : ROUTES) {
      const ratio = (variant, base) => rounds.map((f) => f[variant][route.name].cpuPerReqUs / f[base][route.name].cpuPerReqUs)
      result.cpu[route.name] = {
        bareCpuPerReqUs: median(rounds.map((f) => f.bare[route.name].cpuPerReqUs)),
        watchOverBare: { median: median(ratio('watch', 'bare')), ...spread(ratio('watch', 'bare')) },
        breakdownOverBare: { median: median(ratio('breakdown', 'bare')), ...spread(ratio('breakdown', 'bare')) },
        breakdownOverWatch: { median: median(ratio('breakdown', 'watch')), ...spread(ratio('breakdown', 'watch')) },
        backgroundPercent: median(rounds.flatMap((f) => VARIANTS.map((v) => f[v][route.name].backgroundPercent)))
      }
    }
    result.memory = await memory(services)
    console.log(JSON.stringify(result, null, 2))
  } finally {
    await services.stop()
  }
}

if (isMain(import.meta.url)) {
  const [role, ...args] = process.argv.slice(2)
  if (role === 'deps') await deps()
  else if (role === 'serve') await serve(args[0], args[1], args[2], Number(args[3] ?? 0))
  else await main()
}
