/* global Chart, document, window, EventSource, fetch, getComputedStyle, Intl */
// The fastify-server-watch dashboard. Plain browser JavaScript, no build step. Every URL is relative to the
// <base href> the server puts in index.html, so the page works under any prefix. Text from the server only
// ever goes into the page through textContent.

const RANGES = {
  '5m': { windowMs: 5 * 60_000, label: '5 min' },
  '1h': { windowMs: 60 * 60_000, label: '1 hour' },
  '24h': { windowMs: 24 * 60 * 60_000, label: '24 hours' }
}
const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const TICK_STEPS = [5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE,
  15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR]
const MAX_TIME_TICKS = 6
const POLL_MS = 5_000
const STREAM_RETRY_MS = 30_000
const TOP_ENDPOINTS_CHARTED = 8
const ENDPOINT_COLOURS = ['c1', 'c2', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9', 'c10', 'c11']
const STATUS_CLASS_COLOURS = { 1: 'c12', 2: 'c4', 3: 'c1', 4: 'c2', 5: 'c3' }

const state = {
  range: readStoredRange(),
  sort: 'count',
  snapshot: null,
  history: null
}

// ---------------------------------------------------------------------------------------------------------------
// Formatting: bytes, durations, counts and times in human units

const integerFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 })
const compactFormat = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 })
const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })
const minuteFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hour12: false })
const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
const DASH = '–'

const isNumber = (value) => typeof value === 'number' && Number.isFinite(value)

function formatCount (value) {
  if (!isNumber(value)) return DASH
  return value >= 1e6 ? compactFormat.format(value) : integerFormat.format(value)
}

function formatBytes (value) {
  if (!isNumber(value)) return DASH
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let scaled = Math.abs(value)
  let unit = 0
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024
    unit++
  }
  const digits = unit === 0 || scaled >= 100 ? 0 : 1
  return `${value < 0 ? '-' : ''}${scaled.toFixed(digits)} ${units[unit]}`
}

function formatDuration (ms) {
  if (!isNumber(ms)) return DASH
  if (ms === 0) return '0 ms'
  if (ms < 1) return `${ms.toFixed(2)} ms`
  if (ms < 10) return `${ms.toFixed(1)} ms`
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
  const seconds = Math.round(ms / 1000)
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`
}

function formatPercent (value, digits = 1) {
  if (!isNumber(value)) return DASH
  if (value > 0 && value < 0.1) return '<0.1%'
  return `${value.toFixed(digits)}%`
}

function formatRate (value) {
  if (!isNumber(value)) return DASH
  return value >= 100 ? integerFormat.format(value) : value.toFixed(value >= 10 ? 1 : 2)
}

const formatClock = (time) => clockFormat.format(new Date(time))

// ---------------------------------------------------------------------------------------------------------------
// DOM helpers

const byId = (id) => document.getElementById(id)

function setText (id, text) {
  const element = typeof id === 'string' ? byId(id) : id
  if (element.textContent !== text) element.textContent = text
}

function make (tag, className, text) {
  const element = document.createElement(tag)
  if (className) element.className = className
  if (text !== undefined) element.textContent = text
  return element
}

function pill (status) {
  const element = make('span', 'pill', status)
  element.dataset.status = status
  return element
}

function swatch (colour) {
  const element = make('i', 'swatch')
  element.style.background = colour
  return element
}

function readStoredRange () {
  try {
    const stored = window.localStorage.getItem('server-watch-range')
    return stored in RANGES ? stored : '5m'
  } catch {
    return '5m'
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Colours: a fixed palette from the style sheet; an endpoint's colour comes from a hash of its key

let theme = readTheme()

function readTheme () {
  const style = getComputedStyle(document.documentElement)
  const read = (name) => style.getPropertyValue(`--${name}`).trim()
  const palette = {}
  for (let i = 1; i <= 12; i++) palette[`c${i}`] = read(`c${i}`)
  return { palette, text: read('text'), muted: read('muted'), grid: read('grid'), surface: read('surface') }
}

function withAlpha (hex, alpha) {
  const match = /^#([0-9a-f]{6})$/i.exec(hex)
  if (match === null) return hex
  const value = parseInt(match[1], 16)
  return `rgba(${value >> 16}, ${(value >> 8) & 255}, ${value & 255}, ${alpha})`
}

/** FNV-1a: the same endpoint keeps the same colour across refreshes, reloads and machines. */
function hash (text) {
  let value = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    value ^= text.charCodeAt(i)
    value = Math.imul(value, 0x01000193)
  }
  return value >>> 0
}

const endpointColourToken = (key) => ENDPOINT_COLOURS[hash(key) % ENDPOINT_COLOURS.length]

function statusColour (code) {
  const base = theme.palette[STATUS_CLASS_COLOURS[String(code)[0]] ?? 'c12']
  const number = Number(code)
  // The round code of a class (200, 400, 500) in full colour, its siblings in stable lighter shades.
  if (number % 100 === 0) return base
  return withAlpha(base, [0.75, 0.55, 0.4][hash(String(code)) % 3])
}

// ---------------------------------------------------------------------------------------------------------------
// Charts: created once, then only their data changes (chart.update('none'))

const charts = {}

function setChartDefaults () {
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily
  Chart.defaults.font.size = 11
  Chart.defaults.animation = false
  Chart.defaults.maintainAspectRatio = false
  Chart.defaults.plugins.legend.labels.usePointStyle = true
  Chart.defaults.plugins.legend.labels.pointStyle = 'circle'
  Chart.defaults.plugins.legend.labels.boxWidth = 7
  Chart.defaults.plugins.legend.labels.boxHeight = 7
  Chart.defaults.plugins.tooltip.padding = 8
  Chart.defaults.plugins.tooltip.cornerRadius = 6
  Chart.defaults.plugins.tooltip.boxPadding = 4
  applyChartDefaultsTheme()
}

function applyChartDefaultsTheme () {
  Chart.defaults.color = theme.muted
  Chart.defaults.borderColor = theme.grid
}

/**
 * A time series chart over the history response: `series` name the history series; `transform` turns a value
 * into what is drawn (utilisation 0..1 into percent).
 */
function createLineChart (canvasId, { series, y, y1 }) {
  const datasets = series.map((item) => ({
    label: item.label,
    data: [],
    seriesName: item.name,
    transform: item.transform,
    colourToken: item.colour,
    fillArea: item.fill === true,
    borderDash: item.dash ? [4, 3] : undefined,
    yAxisID: item.axis ?? 'y',
    stepped: item.stepped ?? false,
    format: item.axis === 'y1' ? y1.format : y.format
  }))
  const axis = (config, position) => ({
    position,
    beginAtZero: true,
    suggestedMax: config.suggestedMax,
    max: config.max,
    border: { display: false },
    grid: { drawOnChartArea: position === 'left' },
    ticks: { maxTicksLimit: 5, callback: (value) => config.format(value) }
  })
  const scales = {
    x: {
      type: 'linear',
      grid: { display: false },
      border: { display: false },
      ticks: { maxRotation: 0, autoSkipPadding: 16, includeBounds: false, callback: formatTimeTick }
    },
    y: axis(y, 'left')
  }
  if (y1) scales.y1 = axis(y1, 'right')
  const chart = new Chart(byId(canvasId), {
    type: 'line',
    data: { labels: [], datasets },
    options: {
      interaction: { mode: 'index', intersect: false },
      elements: { point: { radius: 0, hoverRadius: 3, hitRadius: 4 }, line: { borderWidth: 1.75, tension: 0.2 } },
      scales,
      plugins: {
        legend: { position: 'top', align: 'end' },
        tooltip: {
          callbacks: {
            title: (items) => items.length > 0 ? formatClock(items[0].parsed.x) : '',
            label: (item) => `${item.dataset.label}: ${item.dataset.format(item.parsed.y)}`
          }
        }
      }
    }
  })
  applyLineTheme(chart)
  return chart
}

function applyLineTheme (chart) {
  for (const dataset of chart.data.datasets) {
    const colour = theme.palette[dataset.colourToken]
    dataset.borderColor = colour
    dataset.backgroundColor = dataset.fillArea ? withAlpha(colour, 0.12) : colour
    dataset.fill = dataset.fillArea ? 'origin' : false
    dataset.pointHoverBackgroundColor = colour
  }
}

const MS_AXIS = { format: formatDuration }

function createCharts () {
  charts.latency = createLineChart('chart-latency', {
    series: [
      { name: 'p50Ms', label: 'p50', colour: 'c1' },
      { name: 'p95Ms', label: 'p95', colour: 'c2' },
      { name: 'p99Ms', label: 'p99', colour: 'c7' }
    ],
    y: MS_AXIS
  })
  charts.throughput = createLineChart('chart-throughput', {
    series: [
      { name: 'requestsPerSecond', label: 'Requests/s', colour: 'c1', fill: true },
      { name: 'errorsPerSecond', label: 'Errors/s (5xx)', colour: 'c3', fill: true }
    ],
    y: { format: (value) => `${formatRate(value)}/s` }
  })
  charts.memory = createLineChart('chart-memory', {
    series: [
      { name: 'rss', label: 'RSS', colour: 'c5', fill: true },
      { name: 'heapTotal', label: 'Heap total', colour: 'c6', dash: true },
      { name: 'heapUsed', label: 'Heap used', colour: 'c6' },
      { name: 'external', label: 'External', colour: 'c12' }
    ],
    y: { format: formatBytes }
  })
  const toPercent = (value) => value * 100
  charts.cpu = createLineChart('chart-cpu', {
    series: [
      { name: 'cpuProcessPercent', label: 'Process CPU', colour: 'c1', fill: true },
      { name: 'cpuSystemPercent', label: 'System CPU', colour: 'c12' },
      { name: 'eventLoopUtilization', label: 'Loop utilisation', colour: 'c6', transform: toPercent },
      { name: 'eventLoopDelayP99Ms', label: 'Loop delay p99', colour: 'c8', axis: 'y1' }
    ],
    y: { format: (value) => formatPercent(value, 0), suggestedMax: 10 },
    y1: { format: formatDuration }
  })
  charts.endpoints = new Chart(byId('chart-endpoints'), {
    type: 'bar',
    data: { labels: [], datasets: [{ label: 'Requests', data: [], backgroundColor: [], borderRadius: 4, maxBarThickness: 16 }] },
    options: {
      indexAxis: 'y',
      scales: {
        x: { beginAtZero: true, border: { display: false }, ticks: { maxTicksLimit: 5, callback: (value) => formatCount(value) } },
        y: { grid: { display: false }, border: { display: false }, ticks: { callback: shortEndpointLabel } }
      },
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (item) => `${formatCount(item.parsed.x)} requests` } }
      }
    }
  })
  charts.status = new Chart(byId('chart-status'), {
    type: 'doughnut',
    data: { labels: [], datasets: [{ data: [], backgroundColor: [], borderWidth: 2, borderColor: theme.surface, hoverOffset: 4 }] },
    options: {
      cutout: '64%',
      plugins: {
        legend: { display: false },
        tooltip: { callbacks: { label: (item) => ` ${item.label}: ${formatCount(item.parsed)}` } }
      }
    }
  })
}

function shortEndpointLabel (value) {
  const label = this.getLabelForValue(value)
  return label.length > 28 ? `${label.slice(0, 27)}…` : label
}

/** The database chart exists only once a database is watched; created then, once. */
function ensureDatabaseChart () {
  if (charts.database) return charts.database
  charts.database = createLineChart('chart-database', {
    series: [
      { name: 'dbPingMs', label: 'Ping', colour: 'c6' },
      { name: 'dbCommandP95Ms', label: 'Command p95', colour: 'c2' },
      { name: 'dbPoolInUse', label: 'Pool in use', colour: 'c5', axis: 'y1', stepped: true }
    ],
    y: MS_AXIS,
    y1: { format: (value) => Number.isInteger(value) ? formatCount(value) : '', suggestedMax: 4 }
  })
  if (state.history) renderLineChart(charts.database, state.history)
  return charts.database
}

function formatTimeTick (value) {
  const date = new Date(value)
  return this.options.ticks.stepSize < MINUTE ? clockFormat.format(date) : minuteFormat.format(date)
}

/**
 * The x axis spans the range, or only the time the server has been sampling when that is shorter, so the lines
 * fill the chart from the first minute. Ticks fall on round times: every 5 s, 10 s, ... 6 h.
 */
function timeAxis (history) {
  const last = history.timestamps.at(-1) ?? Date.now()
  const first = history.timestamps[0] ?? last
  const windowMs = (RANGES[history.range] ?? RANGES['5m']).windowMs
  const min = Math.min(last - 10 * SECOND, Math.max(first, last - windowMs))
  const span = last - min
  const stepSize = TICK_STEPS.find((step) => span / step <= MAX_TIME_TICKS) ?? TICK_STEPS.at(-1)
  return { min, max: last, stepSize }
}

function renderLineChart (chart, history) {
  chart.data.labels = history.timestamps
  for (const dataset of chart.data.datasets) {
    const values = history.series[dataset.seriesName] ?? []
    const transform = dataset.transform
    dataset.data = transform ? values.map((value) => value === null ? null : transform(value)) : values
  }
  const { min, max, stepSize } = timeAxis(history)
  const x = chart.options.scales.x
  x.min = min
  x.max = max
  x.ticks.stepSize = stepSize
  chart.update('none')
}

function renderHistory () {
  const history = state.history
  if (!history) return
  for (const name of ['latency', 'throughput', 'memory', 'cpu', 'database']) {
    if (charts[name]) renderLineChart(charts[name], history)
  }
  const peak = Math.max(0, ...history.series.requestsPerSecond.filter(isNumber))
  setText('app-rps-sub', `peak ${formatRate(peak)}/s in ${RANGES[history.range]?.label ?? history.range}`)
}

/** A live sample joins the 5 minute history at once; the coarser ranges are re-read when a step has passed. */
function appendPoint (point) {
  const history = state.history
  if (!history || !point) return
  const last = history.timestamps.at(-1) ?? -Infinity
  if (point.timestamp <= last) return
  if (history.range !== '5m') {
    if (point.timestamp - last >= history.stepMs) refresh()
    return
  }
  const cutoff = point.timestamp - RANGES['5m'].windowMs
  let drop = 0
  while (drop < history.timestamps.length && history.timestamps[drop] <= cutoff) drop++
  // New arrays rather than push/shift: the charts hold references to these.
  history.timestamps = [...history.timestamps.slice(drop), point.timestamp]
  for (const name of Object.keys(history.series)) {
    history.series[name] = [...history.series[name].slice(drop), point.values[name] ?? null]
  }
  renderHistory()
}

// ---------------------------------------------------------------------------------------------------------------
// Cards

function renderSnapshot (snapshot) {
  state.snapshot = snapshot
  renderHeader(snapshot)
  renderOverview(snapshot)
  renderApplication(snapshot.application)
  renderMemory(snapshot.memory)
  renderCpu(snapshot.cpu, snapshot.eventLoop)
  renderEndpoints(snapshot.application.endpoints)
  renderStatusCodes(snapshot.application.statusCodes)
  renderDatabase(snapshot.database)
  renderChecks(snapshot.checks)
  renderErrors(snapshot.application.recentErrors)
}

function renderHeader (snapshot) {
  const { instance } = snapshot
  setText('host', `${instance.hostname} · pid ${instance.pid}`)
  const status = byId('status')
  status.dataset.status = snapshot.status
  setText(status, snapshot.status)
  document.title = `${snapshot.status === 'healthy' ? '' : `(${snapshot.status}) `}${instance.hostname} · Server Watch`
  const updated = byId('updated')
  updated.dateTime = snapshot.timestamp
  setText(updated, formatClock(snapshot.timestamp))
}

function factValue (id, main, detail) {
  const element = byId(id)
  const children = [typeof main === 'string' ? document.createTextNode(main) : main]
  if (detail) children.push(make('small', '', detail))
  element.replaceChildren(...children)
}

function renderOverview ({ status, uptime, instance, cpu }) {
  factValue('ov-status', pill(status))
  factValue('ov-uptime', uptime.formatted, `since ${dateFormat.format(new Date(instance.startedAt))}`)
  factValue('ov-instance', instance.hostname, `pid ${instance.pid}`)
  setText('ov-node', instance.nodeVersion)
  setText('ov-fastify', instance.fastifyVersion)
  factValue('ov-platform', instance.platform, `${cpu.cores} CPU core${cpu.cores === 1 ? '' : 's'}`)
  setText('footer-started', `Started ${dateFormat.format(new Date(instance.startedAt))}`)
}

function renderApplication (application) {
  setText('app-total', formatCount(application.totalRequests))
  setText('app-inflight', `${formatCount(application.inFlight)} in flight`)
  setText('app-rps', formatRate(application.requestsPerSecond))
  setText('app-error-rate', formatPercent(application.errorRate, 2))
  const errorTile = byId('app-error-rate').parentElement
  errorTile.dataset.level = application.errorRate >= 5 ? 'bad' : application.errorRate >= 1 ? 'warn' : ''
  setText('app-errors', `${formatCount(application.errorCount)} server errors (5xx)`)
  setText('app-avg', formatDuration(application.averageResponseTimeMs))
  setText('app-p95', formatDuration(application.responseTimeMs.p95))
  setText('app-p99', formatDuration(application.responseTimeMs.p99))
  setText('app-max', `max ${formatDuration(application.responseTimeMs.max)}`)
}

function renderMemory ({ process, system }) {
  setText('mem-rss', formatBytes(process.rss))
  setText('mem-heap', formatBytes(process.heapUsed))
  setText('mem-external', formatBytes(process.external))
  setText('mem-percent', formatPercent(process.memoryPercent))

  // used + buffers/cache + free = total, drawn in true proportion.
  const total = system.total
  if (isNumber(total) && total > 0) {
    const free = Math.min(total, system.free ?? 0)
    const cached = Math.min(total - free, (system.buffers ?? 0) + (system.cached ?? 0))
    const used = Math.max(0, total - free - cached)
    const width = (part) => `${(part / total * 100).toFixed(2)}%`
    byId('sysmem-used').style.width = width(used)
    byId('sysmem-cached').style.width = width(cached)
    byId('sysmem-free').style.width = width(free)
    setText('sysmem-used-value', formatBytes(used))
    setText('sysmem-cached-value', formatBytes(cached))
    setText('sysmem-free-value', formatBytes(free))
    setText('sysmem-summary', `${formatPercent(system.percent, 0)} of ${formatBytes(total)} in use · ${formatBytes(system.available)} available`)
  } else {
    setText('sysmem-summary', 'not available on this platform')
  }
  const swap = system.swap
  setText('sysmem-swap', isNumber(swap.total) && swap.total > 0
    ? `Swap ${formatBytes(swap.used)} of ${formatBytes(swap.total)}`
    : 'No swap')

  const spaces = process.heapSpaces.map((space) => {
    const item = make('li')
    const track = make('span', 'bar-track')
    const fill = make('span', 'bar-fill')
    fill.style.width = `${space.size > 0 ? Math.min(100, space.used / space.size * 100).toFixed(1) : 0}%`
    track.append(fill)
    item.append(
      make('span', 'bar-name', space.name.replace(/_/g, ' ')),
      track,
      make('span', 'bar-value', `${formatBytes(space.used)} / ${formatBytes(space.size)}`)
    )
    return item
  })
  byId('heap-spaces').replaceChildren(...spaces)
}

function renderCpu (cpu, eventLoop) {
  setText('cpu-process', formatPercent(cpu.processPercent))
  setText('cpu-system', formatPercent(cpu.systemPercent))
  setText('loop-p99', formatDuration(eventLoop.delayMs.p99))
  setText('loop-elu', isNumber(eventLoop.utilization) ? formatPercent(eventLoop.utilization * 100) : DASH)
  const load = Array.isArray(cpu.loadAverage) ? cpu.loadAverage.map((value) => value.toFixed(2)).join(' · ') : 'not available'
  setText('cpu-load', `Load average (1, 5, 15 min): ${load} on ${cpu.cores} core${cpu.cores === 1 ? '' : 's'} · loop delay max ${formatDuration(eventLoop.delayMs.max)}`)
}

const SORTS = {
  count: (a, b) => b[1].count - a[1].count,
  errorCount: (a, b) => b[1].errorCount - a[1].errorCount || b[1].count - a[1].count,
  p95: (a, b) => (b[1].p95 ?? -1) - (a[1].p95 ?? -1)
}

function splitEndpoint (key) {
  const space = key.indexOf(' ')
  return space > 0 ? [key.slice(0, space), key.slice(space + 1)] : ['', key]
}

function renderEndpoints (endpoints) {
  const entries = Object.entries(endpoints)
  const empty = entries.length === 0
  byId('endpoints-empty').hidden = !empty
  byId('endpoints-chart-box').hidden = empty
  byId('endpoints-table').parentElement.hidden = empty
  setText('endpoints-count', empty ? '' : `${entries.length} route${entries.length === 1 ? '' : 's'}`)

  const byCount = [...entries].sort((a, b) => SORTS.count(a, b) || (a[0] < b[0] ? -1 : 1))
  const top = byCount.slice(0, TOP_ENDPOINTS_CHARTED)
  const chart = charts.endpoints
  chart.data.labels = top.map(([key]) => key)
  chart.data.datasets[0].data = top.map(([, endpoint]) => endpoint.count)
  chart.data.datasets[0].backgroundColor = top.map(([key]) => theme.palette[endpointColourToken(key)])
  chart.update('none')

  const sorted = [...entries].sort((a, b) => SORTS[state.sort](a, b) || (a[0] < b[0] ? -1 : 1))
  const rows = sorted.map(([key, endpoint]) => {
    const [method, route] = splitEndpoint(key)
    const row = make('tr')
    const name = make('td')
    const label = make('div', 'endpoint')
    label.title = key
    label.append(swatch(theme.palette[endpointColourToken(key)]))
    if (method) label.append(make('span', 'method', method))
    label.append(make('span', 'route', route))
    name.append(label)
    const errors = make('td', endpoint.errorCount > 0 ? 'num count-bad' : 'num', formatCount(endpoint.errorCount))
    row.append(
      name,
      make('td', 'num', formatCount(endpoint.count)),
      errors,
      make('td', 'num hide-narrow', formatDuration(endpoint.averageResponseTimeMs)),
      make('td', 'num', formatDuration(endpoint.p95)),
      make('td', 'num hide-narrow', formatDuration(endpoint.p99))
    )
    return row
  })
  byId('endpoints-body').replaceChildren(...rows)
}

function renderStatusCodes (statusCodes) {
  const entries = Object.entries(statusCodes).filter(([, count]) => count > 0).sort((a, b) => Number(a[0]) - Number(b[0]))
  const total = entries.reduce((sum, [, count]) => sum + count, 0)
  byId('status-empty').hidden = entries.length > 0
  byId('status-chart-box').hidden = entries.length === 0
  const chart = charts.status
  chart.data.labels = entries.map(([code]) => code)
  chart.data.datasets[0].data = entries.map(([, count]) => count)
  chart.data.datasets[0].backgroundColor = entries.map(([code]) => statusColour(code))
  chart.data.datasets[0].borderColor = theme.surface
  chart.update('none')
  byId('status-list').replaceChildren(...entries.map(([code, count]) => {
    const item = make('li')
    item.title = `${formatCount(count)} responses with status ${code}`
    const label = make('span', 'code')
    label.append(swatch(statusColour(code)), document.createTextNode(code))
    item.append(label, make('span', 'muted', total > 0 ? formatPercent(count / total * 100) : DASH))
    return item
  }))
}

function renderDatabase (database) {
  const configured = database.status !== 'not_configured'
  byId('db-empty').hidden = configured
  byId('db-body').hidden = !configured
  const status = byId('db-status')
  status.hidden = !configured
  if (!configured) return
  status.dataset.status = database.status
  setText(status, database.status)
  ensureDatabaseChart()
  setText('db-ping', formatDuration(database.pingMs))
  const pool = database.pool
  setText('db-pool', pool ? `${formatCount(pool.inUse)} / ${formatCount(pool.open)}` : DASH)
  const commands = database.commands
  setText('db-command', formatDuration(commands?.recentP95Ms ?? commands?.latencyMs?.p95))
  setText('db-commands', formatCount(commands?.total))

  const notes = []
  const version = database.serverStatus?.version
  if (version) notes.push(`MongoDB ${version}`)
  const topology = database.topology
  if (topology) {
    notes.push(`${topology.type} topology`)
    const servers = topology.servers.map((server) => `${server.address} (${server.state})`)
    if (servers.length > 0) notes.push(servers.slice(0, 3).join(', ') + (servers.length > 3 ? ` and ${servers.length - 3} more` : ''))
  }
  if (pool && pool.waiting > 0) notes.push(`${formatCount(pool.waiting)} waiting for a connection`)
  if (commands && commands.monitored === false) notes.push('command latency needs monitorCommands: true on the MongoClient')
  setText('db-notes', notes.join(' · '))
  const error = byId('db-error')
  error.hidden = !database.error
  setText(error, database.error ?? '')
}

function renderChecks (checks) {
  const entries = Object.entries(checks).sort((a, b) => a[0] < b[0] ? -1 : 1)
  byId('checks-empty').hidden = entries.length > 0
  byId('checks-table').hidden = entries.length === 0
  byId('checks-body').replaceChildren(...entries.map(([name, check]) => {
    const row = make('tr')
    const nameCell = make('td')
    nameCell.append(make('span', 'route', name))
    if (check.error) nameCell.append(make('div', 'error-text', check.error))
    const statusCell = make('td')
    statusCell.append(pill(check.status), make('span', 'muted', check.required ? ' required' : ' optional'))
    row.append(
      nameCell,
      statusCell,
      make('td', 'num', formatDuration(check.durationMs)),
      make('td', 'hide-narrow muted', check.lastCheckedAt ? formatClock(check.lastCheckedAt) : 'not yet')
    )
    return row
  }))
}

function renderErrors (recentErrors) {
  byId('errors-empty').hidden = recentErrors.length > 0
  setText('errors-count', recentErrors.length > 0 ? `last ${recentErrors.length}, newest first` : '')
  byId('errors-list').replaceChildren(...recentErrors.map((error) => {
    const item = make('li')
    item.dataset.class = String(error.statusCode)[0]
    const where = make('span', 'error-where')
    where.append(make('span', 'method', error.method), document.createTextNode(error.path))
    const time = make('time', 'error-time', formatClock(error.timestamp))
    time.dateTime = error.timestamp
    item.append(make('span', 'error-code', String(error.statusCode)), where, time, make('span', 'error-message', error.message))
    const meta = [error.route !== error.path ? `route ${error.route}` : '', error.code ?? ''].filter(Boolean).join(' · ')
    if (meta) item.append(make('span', 'error-meta', meta))
    return item
  }))
}

// ---------------------------------------------------------------------------------------------------------------
// Updates: one at a time; live through server-sent events, polling when the stream is not available,
// nothing while the tab is hidden.

async function getJson (url) {
  const response = await fetch(url, { headers: { accept: 'application/json' }, cache: 'no-store' })
  if (!response.ok) throw new Error(`${url} answered ${response.status}`)
  return response.json()
}

let running = null
let again = false

/** Reads history and snapshot. A call made while one runs is folded into one more run after it: never two at once. */
function refresh () {
  if (running) {
    again = true
    return running
  }
  const button = byId('refresh')
  button.setAttribute('aria-busy', 'true')
  running = (async () => {
    try {
      do {
        again = false
        const history = await getJson(`api/history?range=${encodeURIComponent(state.range)}`)
        const snapshot = await getJson('api/snapshot')
        state.history = history
        renderSnapshot(snapshot)
        renderHistory()
        showProblem(null)
      } while (again)
    } catch (error) {
      showProblem(`Cannot reach the server: ${error.message}`)
      if (live.mode !== 'paused') setMode('offline')
    } finally {
      running = null
      button.setAttribute('aria-busy', 'false')
    }
  })()
  return running
}

function showProblem (message) {
  const banner = byId('banner')
  banner.hidden = message === null
  setText(banner, message ?? '')
}

const live = { mode: 'connecting', source: null, pollTimer: null, retryTimer: null }
const MODE_LABELS = { connecting: 'Connecting', live: 'Live', polling: 'Polling', paused: 'Paused', offline: 'Offline' }

function setMode (mode) {
  live.mode = mode
  const element = byId('connection')
  element.dataset.mode = mode
  setText(element, MODE_LABELS[mode])
}

function openStream () {
  if (document.hidden || live.source !== null) return
  if (typeof EventSource !== 'function') {
    startPolling()
    return
  }
  const source = new EventSource('api/stream')
  live.source = source
  source.addEventListener('open', () => {
    stopPolling()
    setMode('live')
  })
  source.addEventListener('sample', (event) => {
    const { snapshot, point } = JSON.parse(event.data)
    renderSnapshot(snapshot)
    appendPoint(point)
    showProblem(null)
  })
  source.addEventListener('error', () => {
    // Past the server's stream cap, behind a proxy that buffers, or the server went away: poll, and try the
    // stream again later.
    closeStream()
    startPolling()
    live.retryTimer ??= setTimeout(() => {
      live.retryTimer = null
      openStream()
    }, STREAM_RETRY_MS)
  })
}

function closeStream () {
  live.source?.close()
  live.source = null
}

function startPolling () {
  if (live.pollTimer !== null || document.hidden) return
  setMode('polling')
  const tick = async () => {
    await refresh()
    if (live.pollTimer !== null) live.pollTimer = setTimeout(tick, POLL_MS)
  }
  live.pollTimer = setTimeout(tick, POLL_MS)
}

function stopPolling () {
  if (live.pollTimer !== null) clearTimeout(live.pollTimer)
  live.pollTimer = null
}

function pause () {
  closeStream()
  stopPolling()
  if (live.retryTimer !== null) clearTimeout(live.retryTimer)
  live.retryTimer = null
  setMode('paused')
}

async function resume () {
  setMode('connecting')
  await refresh()
  openStream()
}

// ---------------------------------------------------------------------------------------------------------------
// Controls

function selectRange (range) {
  if (!(range in RANGES)) return
  state.range = range
  try {
    window.localStorage.setItem('server-watch-range', range)
  } catch {}
  for (const button of byId('range').querySelectorAll('button')) {
    button.setAttribute('aria-checked', String(button.dataset.range === range))
  }
}

function sortEndpoints (sort) {
  state.sort = sort
  for (const header of byId('endpoints-table').querySelectorAll('th[aria-sort]')) {
    header.setAttribute('aria-sort', header.querySelector('button').dataset.sort === sort ? 'descending' : 'none')
  }
  if (state.snapshot) renderEndpoints(state.snapshot.application.endpoints)
}

function onThemeChange () {
  theme = readTheme()
  applyChartDefaultsTheme()
  for (const chart of Object.values(charts)) {
    if (chart.config.type === 'line') applyLineTheme(chart)
    for (const scale of Object.values(chart.options.scales ?? {})) {
      if (scale.ticks) scale.ticks.color = theme.muted
      if (scale.grid) scale.grid.color = theme.grid
    }
    if (chart.options.plugins.legend.labels) chart.options.plugins.legend.labels.color = theme.muted
    chart.update('none')
  }
  if (state.snapshot) renderSnapshot(state.snapshot)
}

function main () {
  setChartDefaults()
  createCharts()
  selectRange(state.range)

  byId('refresh').addEventListener('click', () => { refresh() })
  byId('range').addEventListener('click', (event) => {
    const button = event.target.closest('button[data-range]')
    if (button === null || button.dataset.range === state.range) return
    selectRange(button.dataset.range)
    refresh()
  })
  byId('endpoints-table').querySelector('thead').addEventListener('click', (event) => {
    const button = event.target.closest('button[data-sort]')
    if (button !== null) sortEndpoints(button.dataset.sort)
  })
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) pause()
    else resume()
  })
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', onThemeChange)

  if (document.hidden) setMode('paused')
  else resume()
}

main()
