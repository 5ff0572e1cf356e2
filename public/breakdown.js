// The "Where the time goes" card (option `breakdown`, docs/breakdown.md): per route a stacked bar of the response
// time spent in the application, the database and outbound calls; the slowest recent queries (shaped: no value);
// N+1 warnings; outbound hosts. Hidden when the snapshot has no breakdown. Server text goes in through textContent.
import { byId, make, setText } from './dom.js'
import { DASH, formatClock, formatCount, formatDuration, isNumber } from './format.js'

const PARTS = [['app', 'Application'], ['db', 'Database'], ['out', 'Outbound']]

export function renderBreakdown (snapshot) {
  const database = snapshot.database?.slowQueries === undefined ? null : snapshot.database
  const outbound = snapshot.outbound ?? null
  const routes = Object.entries(snapshot.application?.endpoints ?? {})
    .filter(([, endpoint]) => endpoint.database !== undefined || endpoint.outbound !== undefined)
  const on = database !== null || outbound !== null || routes.length > 0
  byId('breakdown').hidden = !on
  if (!on) return
  renderRoutes(routes)
  renderSlowQueries(database?.slowQueries ?? [])
  renderNPlusOne(database?.nPlusOne ?? [])
  renderHosts(outbound?.hosts ?? {})
}

const percent = (share) => `${(share * 100).toFixed(share > 0 && share < 0.01 ? 1 : 0)}%`

/** The three shares of a route: database and outbound as measured, the application the rest. */
function shares (endpoint) {
  const db = endpoint.database?.share ?? 0
  const out = endpoint.outbound?.share ?? 0
  return { app: Math.max(0, 1 - db - out), db, out }
}

function stackedBar (endpoint) {
  const parts = shares(endpoint)
  const bar = make('span', 'time-bar')
  bar.setAttribute('role', 'img')
  bar.setAttribute('aria-label', PARTS.map(([key, name]) => `${name} ${percent(parts[key])}`).join(', '))
  for (const [key, name] of PARTS) {
    const segment = make('span', `time-seg seg-${key}`)
    segment.style.width = `${(parts[key] * 100).toFixed(2)}%`
    segment.title = `${name}: ${percent(parts[key])}`
    bar.append(segment)
  }
  return bar
}

function callsText (figures) {
  if (figures === undefined) return DASH
  const { callsPerRequest, timeMsPerRequest } = figures
  return `${callsPerRequest} · ${formatDuration(timeMsPerRequest.avg)} avg · ${formatDuration(timeMsPerRequest.p95)} p95`
}

function renderRoutes (routes) {
  // The routes that spend most of their time outside the application first.
  routes.sort(([, a], [, b]) => shares(a).app - shares(b).app)
  byId('breakdown-routes-body').replaceChildren(...routes.map(([key, endpoint]) => {
    const row = make('tr')
    const name = make('td')
    name.append(make('span', 'route', key))
    const bar = make('td', 'time-bar-cell')
    bar.append(stackedBar(endpoint))
    const nPlusOne = make('td', 'num', isNumber(endpoint.nPlusOne) ? formatCount(endpoint.nPlusOne) : DASH)
    if (endpoint.nPlusOne > 0) nPlusOne.dataset.level = 'bad'
    row.append(name, make('td', 'num', formatCount(endpoint.count)), bar,
      make('td', 'num hide-narrow', callsText(endpoint.database)), make('td', 'num hide-narrow', callsText(endpoint.outbound)), nPlusOne)
    return row
  }))
  setText('breakdown-routes-empty', routes.length === 0 ? 'No request answered yet.' : '')
  byId('breakdown-routes-empty').hidden = routes.length > 0
}

function renderSlowQueries (queries) {
  byId('breakdown-slow-wrap').hidden = queries.length === 0
  byId('breakdown-slow-empty').hidden = queries.length > 0
  byId('breakdown-slow-body').replaceChildren(...queries.map((query) => {
    const row = make('tr')
    const shape = make('td', 'shape')
    shape.append(make('code', '', query.shape))
    const at = make('time', '', formatClock(query.at))
    at.dateTime = query.at
    const atCell = make('td', 'num hide-narrow')
    atCell.append(at)
    row.append(make('td', 'num', formatDuration(query.durationMs)), make('td', '', `${query.command} ${query.collection ?? ''}`.trim()),
      shape, make('td', 'muted', query.endpoint), atCell)
    return row
  }))
}

function renderNPlusOne (patterns) {
  byId('breakdown-nplusone').hidden = patterns.length === 0
  byId('breakdown-nplusone-list').replaceChildren(...patterns.map((pattern) => {
    const item = make('li')
    item.append(make('span', 'route', pattern.endpoint), document.createTextNode(' runs '), make('code', '', pattern.shape),
      document.createTextNode(` ${pattern.callsPerRequest} times per request, in ${formatCount(pattern.requests)} request${pattern.requests === 1 ? '' : 's'}`))
    return item
  }))
}

function renderHosts (hosts) {
  const entries = Object.entries(hosts).sort(([, a], [, b]) => b.calls - a.calls)
  byId('breakdown-hosts-wrap').hidden = entries.length === 0
  byId('breakdown-hosts-body').replaceChildren(...entries.map(([host, figures]) => {
    const row = make('tr')
    const errors = make('td', 'num', formatCount(figures.errors))
    if (figures.errors > 0) errors.dataset.level = 'bad'
    row.append(make('td', 'route', host), make('td', 'num', formatCount(figures.calls)), errors,
      make('td', 'num', formatDuration(figures.p50Ms)), make('td', 'num', formatDuration(figures.p95Ms)))
    return row
  }))
}
