/* global document */
// The cards: each renders its part of the snapshot. Server text goes in through textContent only.
import { ensureDatabaseChart, renderEndpointChart, renderStatusChart } from './charts.js'
import { renderDiagnostics } from './diagnostics.js'
import { byId, make, pill, setText, swatch } from './dom.js'
import { RANGES } from './ranges.js'
import { assignEndpointColours, endpointColour, statusColour } from './theme.js'
import { DASH, dateFormat, formatBytes, formatClock, formatCount, formatDuration, formatPercent, formatRate, isNumber } from './format.js'

const TOP_ENDPOINTS_CHARTED = 8

export function renderSnapshot (snapshot, { sort }) {
  renderHeader(snapshot)
  renderOverview(snapshot)
  renderApplication(snapshot.application)
  renderMemory(snapshot.memory)
  renderCpu(snapshot.cpu, snapshot.eventLoop)
  renderProcess(snapshot.memory.process)
  renderEndpoints(snapshot.application.endpoints, sort)
  renderStatusCodes(snapshot.application.statusCodes)
  renderDatabase(snapshot.database)
  renderChecks(snapshot.checks)
  renderErrors(snapshot.application.recentErrors)
  renderDiagnostics(snapshot)
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
  // In a container the share that matters is of its limit, where the kernel kills it, not of the host's RAM.
  setText('mem-percent-label', process.limit.source === 'host' ? 'Share of RAM' : `Share of ${formatBytes(process.limit.bytes)} limit`)

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
  const more = [
    ['Active', system.active], ['Inactive', system.inactive], ['Buffers', system.buffers], ['Shared', system.shared]
  ].filter(([, value]) => isNumber(value)).map(([name, value]) => `${name} ${formatBytes(value)}`)
  if (isNumber(swap.total) && swap.total > 0) {
    more.push(`Swap ${formatBytes(swap.used)} of ${formatBytes(swap.total)} (in ${formatBytes(swap.sin)}, out ${formatBytes(swap.sout)})`)
  } else if (isNumber(swap.total)) {
    more.push('No swap')
  }
  setText('sysmem-more', more.join(' · '))

  const spaces = process.heapSpaces.map((space) => {
    const item = make('li')
    const track = make('span', 'bar-track')
    const fill = make('span', 'bar-fill')
    fill.style.width = `${space.size > 0 ? Math.min(100, space.used / space.size * 100).toFixed(1) : 0}%`
    track.append(fill)
    const name = make('span', 'bar-name', space.name.replace(/_/g, ' '))
    // Cut with an ellipsis where the column is narrow: the whole name is in its title.
    name.title = name.textContent
    item.append(
      name,
      track,
      make('span', 'bar-value', `${formatBytes(space.used)} / ${formatBytes(space.size)}`)
    )
    return item
  })
  byId('heap-spaces').replaceChildren(...spaces)
}

function renderProcess (process) {
  setText('proc-threads', formatCount(process.numThreads))
  setText('proc-files', formatCount(process.openFiles))
  setText('proc-connections', formatCount(process.connections))
  setText('proc-vms', formatBytes(process.vms))
  setText('proc-more', `pid ${process.pid} · heap total ${formatBytes(process.heapTotal)} · array buffers ${formatBytes(process.arrayBuffers)}`)
}

function renderCpu (cpu, eventLoop) {
  setText('cpu-process', formatPercent(cpu.processPercent))
  const quota = `${Number(cpu.limitCores.toFixed(2))} core${cpu.limitCores === 1 ? '' : 's'}`
  setText('cpu-process-label', cpu.limitSource === 'host' ? 'Process CPU' : `Process CPU of ${quota} quota`)
  setText('cpu-system', formatPercent(cpu.systemPercent))
  setText('loop-p99', formatDuration(eventLoop.delayMs.p99))
  setText('loop-elu', isNumber(eventLoop.utilization) ? formatPercent(eventLoop.utilization * 100) : DASH)
  const load = Array.isArray(cpu.loadAverage) ? cpu.loadAverage.map((value) => value.toFixed(2)).join(' / ') : 'not available'
  setText('cpu-load', `Load average ${load} (1, 5, 15 min) on ${cpu.cores} core${cpu.cores === 1 ? '' : 's'} · loop delay p50 ${formatDuration(eventLoop.delayMs.p50)}, max ${formatDuration(eventLoop.delayMs.max)}`)
}

const SORTS = {
  count: (a, b) => b[1].count - a[1].count,
  errorCount: (a, b) => b[1].errorCount - a[1].errorCount || b[1].count - a[1].count,
  p95: (a, b) => (b[1].p95 ?? -1) - (a[1].p95 ?? -1)
}

/** 'GET /users/:id' => ['GET', '/users/:id']; a shared bucket such as '(not found)' has no method. */
function splitEndpoint (key) {
  const match = /^([A-Z]+) (.*)$/.exec(key)
  return match === null ? ['', key] : [match[1], match[2]]
}

export function renderEndpoints (endpoints, sort) {
  const entries = Object.entries(endpoints)
  const empty = entries.length === 0
  byId('endpoints-empty').hidden = !empty
  byId('endpoints-chart-box').hidden = empty
  byId('endpoints-table').parentElement.hidden = empty
  setText('endpoints-count', empty ? '' : `${entries.length} route${entries.length === 1 ? '' : 's'}`)

  const byCount = [...entries].sort((a, b) => SORTS.count(a, b) || (a[0] < b[0] ? -1 : 1))
  const top = byCount.slice(0, TOP_ENDPOINTS_CHARTED)
  // The charted ones first, so that they are the ones with distinct colours.
  assignEndpointColours(top.map(([key]) => key))
  assignEndpointColours(byCount.map(([key]) => key))
  renderEndpointChart(top)

  const sorted = [...entries].sort((a, b) => SORTS[sort](a, b) || (a[0] < b[0] ? -1 : 1))
  const rows = sorted.map(([key, endpoint]) => {
    const [method, route] = splitEndpoint(key)
    const row = make('tr')
    const name = make('td')
    const label = make('div', 'endpoint')
    label.title = key
    label.append(swatch(endpointColour(key)))
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

// "other" (a code outside 100 to 999) after every number.
const codeOrder = (code) => Number(code) || 1000

function renderStatusCodes (statusCodes) {
  const entries = Object.entries(statusCodes).filter(([, count]) => count > 0).sort((a, b) => codeOrder(a[0]) - codeOrder(b[0]))
  const total = entries.reduce((sum, [, count]) => sum + count, 0)
  byId('status-empty').hidden = entries.length > 0
  byId('status-chart-box').hidden = entries.length === 0
  renderStatusChart(entries)
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
    const nameText = make('span', 'route', name)
    nameText.title = name
    nameCell.append(nameText, make('span', 'check-kind', check.required ? 'required' : 'optional'))
    if (check.error) nameCell.append(make('div', 'error-text', check.error))
    const statusCell = make('td')
    statusCell.append(pill(check.status))
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
  const list = byId('errors-list')
  list.hidden = recentErrors.length === 0
  list.replaceChildren(...recentErrors.map((error) => {
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
  endOnWholeItem(list)
}

/**
 * A scrolling list that ends on a whole item: its height is cut back to the bottom of the last item that fits the
 * height the layout gives it, so that no item shows cut mid-line (the rest scrolls into view).
 */
function endOnWholeItem (list) {
  list.style.maxHeight = ''
  const available = list.clientHeight
  if (list.scrollHeight <= available) return
  const top = list.getBoundingClientRect().top + list.clientTop - list.scrollTop
  let fits = 0
  for (const item of list.children) {
    const bottom = item.getBoundingClientRect().bottom - top
    if (bottom > available) break
    fits = bottom
  }
  if (fits > 0) list.style.maxHeight = `${Math.ceil(fits)}px`
}

/** The peak rate of the range, under the current rate. */
export function renderPeak (history) {
  const peak = Math.max(0, ...history.series.requestsPerSecond.filter(isNumber))
  setText('app-rps-sub', `peak ${formatRate(peak)}/s in ${RANGES[history.range]?.label ?? history.range}`)
}
