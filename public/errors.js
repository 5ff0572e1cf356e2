/* global document, Chart */
// The "Errors" card (application.errorGroups) and the "This release" card (releases, and the groups first seen in
// the release running). Server text goes in as textContent only; the sparkline is an SVG built with createElementNS.
import { byId, make, setText } from './dom.js'
import { formatClock, formatCount, formatDuration, formatPercent, dateFormat } from './format.js'

const SVG = 'http://www.w3.org/2000/svg'
const TIME_CHARTS = ['chart-latency', 'chart-throughput', 'chart-memory', 'chart-cpu', 'chart-database']

/** [{ time, label }]: when each known release started, drawn on every time chart by the plugin below. */
let markers = []
let markersKey = ''

// A vertical line with the release's name where a release started, when that time lies inside the chart's range.
Chart.register({
  id: 'serverWatchReleases',
  afterDatasetsDraw (chart) {
    const list = chart.options.plugins.serverWatchReleases?.markers
    const x = chart.scales.x
    if (!list || !x || x.type !== 'linear') return
    const { ctx, chartArea } = chart
    for (const marker of list) {
      const px = x.getPixelForValue(marker.time)
      if (!(px >= chartArea.left && px <= chartArea.right)) continue
      ctx.save()
      ctx.strokeStyle = '#7c3aed'
      ctx.fillStyle = ctx.strokeStyle
      ctx.setLineDash([2, 3])
      ctx.lineWidth = 1
      ctx.beginPath()
      ctx.moveTo(px, chartArea.top)
      ctx.lineTo(px, chartArea.bottom)
      ctx.stroke()
      ctx.font = '11px system-ui, sans-serif'
      ctx.textAlign = 'left'
      ctx.fillText(marker.label, px + 3, chartArea.top + 10)
      ctx.restore()
    }
  }
})

function setReleaseMarkers (releases) {
  const next = [releases.current, releases.previous].filter(Boolean)
    .map((release) => ({ time: Date.parse(release.since), label: release.release ?? 'unnamed release' }))
  const key = JSON.stringify(next)
  if (key === markersKey) return
  markers = next
  markersKey = key
  for (const id of TIME_CHARTS) {
    const chart = Chart.getChart(byId(id))
    if (!chart) continue
    chart.options.plugins.serverWatchReleases = { markers }
    chart.update('none')
  }
}
const SPARK_WIDTH = 120
const SPARK_HEIGHT = 24

/** Occurrences per minute over the last hour as a polyline. */
function sparkline (perMinute) {
  const svg = document.createElementNS(SVG, 'svg')
  svg.setAttribute('class', 'spark')
  svg.setAttribute('viewBox', `0 0 ${SPARK_WIDTH} ${SPARK_HEIGHT}`)
  svg.setAttribute('role', 'img')
  const total = perMinute.reduce((a, b) => a + b, 0)
  svg.setAttribute('aria-label', `${total} in the last hour`)
  const max = Math.max(1, ...perMinute)
  const step = SPARK_WIDTH / Math.max(1, perMinute.length - 1)
  const line = document.createElementNS(SVG, 'polyline')
  line.setAttribute('points', perMinute.map((n, i) => `${(i * step).toFixed(1)},${(SPARK_HEIGHT - 1 - (n / max) * (SPARK_HEIGHT - 2)).toFixed(1)}`).join(' '))
  svg.append(line)
  return svg
}

function group (g) {
  const item = make('li', 'group')
  item.dataset.id = g.id
  const details = make('details')
  const summary = make('summary')
  const title = make('span', 'group-title')
  title.append(make('strong', 'group-name', g.name), make('span', 'group-message', g.message))
  summary.append(
    make('span', 'group-count', formatCount(g.count)),
    title,
    sparkline(g.perMinute)
  )
  const routes = Object.entries(g.endpoints).sort((a, b) => b[1] - a[1])
  const meta = [
    `first ${formatClock(g.firstSeen)}`,
    `last ${formatClock(g.lastSeen)}`,
    g.firstRelease === null ? '' : `since ${g.firstRelease}`,
    g.code ?? '',
    routes.slice(0, 2).map(([route]) => route).join(', ') + (routes.length > 2 ? ` +${routes.length - 2}` : '')
  ].filter(Boolean).join(' · ')
  summary.append(make('span', 'group-meta', meta))
  details.append(summary)
  const more = make('div', 'group-more')
  const table = make('ul', 'group-routes')
  for (const [route, n] of routes) table.append(make('li', '', `${route}: ${formatCount(n)}`))
  const codes = Object.entries(g.statusCodes).map(([code, n]) => `${code} × ${formatCount(n)}`).join(', ')
  more.append(table, make('p', 'group-codes', `status ${codes} · first seen ${dateFormat.format(new Date(g.firstSeen))}`))
  if (g.stack !== null) more.append(make('pre', 'group-stack', g.stack))
  details.append(more)
  item.append(details)
  return item
}

/** Open groups stay open across refreshes: the list is rebuilt, the ids of the open ones are kept. */
export function renderErrorGroups (groups = []) {
  const list = byId('groups-list')
  if (!list) return
  const open = new Set([...list.querySelectorAll('li.group details[open]')].map((d) => d.parentElement.dataset.id))
  byId('groups-empty').hidden = groups.length > 0
  setText('groups-count', groups.length > 0 ? `${groups.length} groups, most recent first` : '')
  list.replaceChildren(...groups.map((g) => {
    const item = group(g)
    if (open.has(g.id)) item.firstChild.open = true
    return item
  }))
}

function side (s) {
  return `${formatCount(s.requests)} req · ${formatPercent(s.errorRate)} errors · p95 ${formatDuration(s.p95Ms)}`
}

/** The release running, the one before, the routes that got worse and the groups first seen in this release. */
export function renderThisRelease (releases, groups = []) {
  if (!releases || !byId('release-current')) return
  const { current, previous, comparison } = releases
  setReleaseMarkers(releases)
  setText('release-current', current.release ?? 'unnamed')
  setText('release-since', `since ${dateFormat.format(new Date(current.since))}`)
  setText('release-previous', previous === null ? 'no earlier release recorded' : `after ${previous.release ?? 'unnamed'} (${dateFormat.format(new Date(previous.since))} to ${dateFormat.format(new Date(previous.until))})`)
  const worse = comparison.filter((c) => c.verdict === 'worse')
  const judged = comparison.filter((c) => c.verdict !== 'too_few').length
  setText('release-verdict', previous === null ? '' : `${worse.length} worse, ${comparison.filter((c) => c.verdict === 'better').length} better, ${judged} routes compared`)
  byId('release-worse').replaceChildren(...worse.map((c) => {
    const item = make('li')
    item.append(make('strong', '', c.endpoint), make('span', 'muted', ` ${c.changed.filter((x) => x.direction === 'worse').map((x) => x.figure === 'p95Ms' ? 'slower' : 'more errors').join(', ')}`),
      make('div', 'muted', `before ${side(c.before)}`), make('div', '', `now ${side(c.after)}`))
    return item
  }))
  const fresh = groups.filter((g) => g.firstRelease !== null && g.firstRelease === current.release)
  byId('release-new-errors').replaceChildren(...fresh.map((g) => make('li', '', `${g.name}: ${g.message} (${formatCount(g.count)})`)))
  byId('release-empty').hidden = worse.length > 0 || fresh.length > 0
}
