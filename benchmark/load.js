// The load generator, always in its own process (pinned to the other core by run.js), so that its
// CPU never lands in the server's figures. Configuration is one JSON argument; the process sends
// { type: 'ready' } over IPC, waits for { type: 'go' }, runs, and sends { type: 'result', value }.
//
// kinds:
//   fixed     autocannon on one path: { url, path, connections, duration | amount, overallRate? }
//   distinct  autocannon over distinct URLs: { url, connections, amount, offset, extraRoutes? }
//             even n -> /users/<offset+n> (param route), odd n -> /nope/<offset+n> (not found);
//             with extraRoutes > 0 every request instead goes to /items<n % extraRoutes>/<n>
//   probe     one keep-alive connection, one request every intervalMs on a path, latency measured
//             with hrtime: { url, path, intervalMs, duration }
import http from 'node:http'
import autocannon from 'autocannon'

const config = JSON.parse(process.argv[2])

function summarise (result) {
  return {
    requests: result['2xx'] + result.non2xx,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    durationS: result.duration,
    reqPerSec: (result['2xx'] + result.non2xx) / result.duration,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max }
  }
}

function runAutocannon (options) {
  return new Promise((resolve, reject) => {
    autocannon(options, (err, result) => {
      if (err) reject(err)
      else resolve(summarise(result))
    })
  })
}

function fixed () {
  const options = { url: config.url + config.path, connections: config.connections }
  if (config.amount) options.amount = config.amount
  else options.duration = config.duration
  if (config.overallRate) options.overallRate = config.overallRate
  return runAutocannon(options)
}

function distinct () {
  let n = config.offset
  const extraRoutes = config.extraRoutes || 0
  const setupRequest = extraRoutes > 0
    ? (request) => {
        request.path = `/items${n % extraRoutes}/${n}`
        n++
        return request
      }
    : (request) => {
        request.path = (n & 1) === 0 ? `/users/${n}` : `/nope/${n}`
        n++
        return request
      }
  return runAutocannon({
    url: config.url,
    connections: config.connections,
    amount: config.amount,
    requests: [{ method: 'GET', setupRequest }]
  })
}

function percentile (sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(p / 100 * sorted.length) - 1)]
}

async function probe () {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const target = new URL(config.path, config.url)
  const latencies = []
  let failures = 0
  const once = () => new Promise((resolve) => {
    const start = process.hrtime.bigint()
    const req = http.get(target, { agent }, (res) => {
      res.on('data', () => {})
      res.on('end', () => {
        if (res.statusCode !== 200) failures++
        latencies.push(Number(process.hrtime.bigint() - start) / 1e6)
        resolve()
      })
    })
    req.on('error', () => { failures++; resolve() })
  })
  const end = Date.now() + config.duration * 1000
  let next = Date.now()
  while (Date.now() < end) {
    await once()
    next += config.intervalMs
    const wait = next - Date.now()
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
  }
  agent.destroy()
  latencies.sort((a, b) => a - b)
  return {
    requests: latencies.length,
    failures,
    latencyMs: {
      p50: percentile(latencies, 50),
      p90: percentile(latencies, 90),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1]
    }
  }
}

const kinds = { fixed, distinct, probe }

process.on('disconnect', () => process.exit(0))
process.once('message', async (message) => {
  if (message.type !== 'go') return
  try {
    const cpuBefore = process.cpuUsage()
    const value = await kinds[config.kind]()
    const cpu = process.cpuUsage(cpuBefore)
    value.loadCpuUs = cpu.user + cpu.system
    process.send({ type: 'result', value }, () => process.exit(0))
  } catch (err) {
    process.send({ type: 'error', error: err.stack }, () => process.exit(1))
  }
})
process.send({ type: 'ready' })
