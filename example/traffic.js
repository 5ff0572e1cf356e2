// Light background traffic for the demo: a few requests a second, a realistic mix of routes and outcomes.
import http from 'node:http'

const routes = [
  { weight: 40, path: () => `/api/users/${1 + Math.floor(Math.random() * 4)}` }, // id 4 is a 404
  { weight: 10, path: () => '/api/reports/slow' },
  { weight: 6, path: () => '/api/checkout' },
  { weight: 10, path: () => '/api/orders', body: () => (Math.random() < 0.8 ? { item: 'coffee', quantity: 2 } : { item: '' }) },
  { weight: 4, path: () => `/static/missing-${Math.floor(Math.random() * 1000)}.png` }
]
const databaseRoutes = [
  { weight: 10, path: () => '/api/db/items' },
  { weight: 3, path: () => '/api/db/items', body: () => ({ name: `item ${Math.floor(Math.random() * 100)}` }) }
]

/**
 * Sends the mix to `base` until stopped. Its keep-alive connections belong to an agent of its own, which `stop()`
 * destroys: left open, they would hold `app.close()` until the server's keep-alive timeout (72 s in Fastify).
 */
export function startTraffic (base, { withDatabase = false, perSecond = 8 } = {}) {
  const mix = withDatabase ? [...routes, ...databaseRoutes] : routes
  const total = mix.reduce((sum, route) => sum + route.weight, 0)
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 })
  const pick = () => {
    let roll = Math.random() * total
    for (const route of mix) {
      roll -= route.weight
      if (roll < 0) return route
    }
    return mix[0]
  }
  const timer = setInterval(() => {
    const route = pick()
    const body = route.body?.()
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const request = http.request(new URL(route.path(), base), {
      agent,
      method: payload === undefined ? 'GET' : 'POST',
      headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      timeout: 5000
    }, (response) => response.resume())
    request.on('timeout', () => request.destroy()).on('error', () => {})
    request.end(payload)
  }, 1000 / perSecond)
  timer.unref()
  return {
    stop () {
      clearInterval(timer)
      agent.destroy() // ends the requests in flight and closes every connection now
    }
  }
}
