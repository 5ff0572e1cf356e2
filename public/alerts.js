/* global Chart */
// Alerts on the page: a banner of the rules that fire, each rule's threshold drawn on the chart of its figure, and
// a timeline of recent transitions. Server text goes in as textContent only.
import { byId, make, setText } from './dom.js'
import { formatClock } from './format.js'

/** Which chart (canvas id) and axis show a rule's figure; figures with no chart get no line. */
const CHART_OF = {
  'eventLoop.delayMs.p99': ['chart-cpu', 'y1'],
  'eventLoop.delayMs.p50': ['chart-cpu', 'y1'],
  'eventLoop.delayMs.max': ['chart-cpu', 'y1'],
  'eventLoop.utilization': ['chart-cpu', 'y', 100],
  'cpu.processPercent': ['chart-cpu', 'y'],
  'cpu.systemPercent': ['chart-cpu', 'y'],
  'memory.process.rss': ['chart-memory', 'y'],
  'memory.process.heapUsed': ['chart-memory', 'y'],
  'memory.process.heapTotal': ['chart-memory', 'y'],
  'memory.process.external': ['chart-memory', 'y'],
  'application.recent.responseTimeMs.p50': ['chart-latency', 'y'],
  'application.recent.responseTimeMs.p95': ['chart-latency', 'y'],
  'application.recent.responseTimeMs.p99': ['chart-latency', 'y'],
  'application.requestsPerSecond': ['chart-throughput', 'y']
}

/** canvas id -> [{ value, axis, label, severity }]: read by the plugin below on every draw. */
const lines = new Map()

// Draws each threshold as a dashed line with its rule's name, when it lies inside the chart's range.
Chart.register({
  id: 'serverWatchThresholds',
  afterDatasetsDraw (chart) {
    const list = lines.get(chart.canvas.id)
    if (!list) return
    const { ctx, chartArea } = chart
    for (const line of list) {
      const scale = chart.scales[line.axis]
      if (!scale) continue
      const y = scale.getPixelForValue(line.value)
      if (!(y >= chartArea.top && y <= chartArea.bottom)) continue
      ctx.save()
      ctx.strokeStyle = line.severity === 'unhealthy' ? '#dc2626' : '#d97706'
      ctx.fillStyle = ctx.strokeStyle
      ctx.setLineDash([6, 4])
      ctx.lineWidth = 1
      ctx.beginPath()
      ctx.moveTo(chartArea.left, y)
      ctx.lineTo(chartArea.right, y)
      ctx.stroke()
      ctx.font = '11px system-ui, sans-serif'
      ctx.textAlign = 'right'
      ctx.fillText(line.label, chartArea.right - 4, y - 4)
      ctx.restore()
    }
  }
})

/** The thresholds of `rules` onto their charts (called when the rules are read). */
export function setThresholds (rules) {
  lines.clear()
  for (const rule of rules) {
    const target = CHART_OF[rule.metric]
    if (!target) continue
    const [canvasId, axis, scale = 1] = target
    if (!lines.has(canvasId)) lines.set(canvasId, [])
    lines.get(canvasId).push({ value: rule.threshold * scale, axis, label: `${rule.name} (${rule.direction} ${rule.threshold})`, severity: rule.severity })
  }
  for (const canvasId of new Set([...Object.values(CHART_OF).map(([id]) => id)])) {
    const chart = Chart.getChart(byId(canvasId))
    if (!chart) continue
    chart.options.plugins.serverWatchThresholds = { lines: lines.get(canvasId) ?? [] }
    chart.update('none')
  }
}

const describe = (alert) => `${alert.name}: ${alert.metric} = ${alert.value ?? 'n/a'} (${alert.direction} ${alert.threshold})`

/** The banner of firing rules; returns a key that changes when the set of firing rules does. */
export function renderActiveAlerts (alerts) {
  const section = byId('alerts')
  const list = byId('alerts-list')
  section.hidden = alerts.length === 0
  section.dataset.severity = alerts.some((alert) => alert.severity === 'unhealthy') ? 'unhealthy' : 'degraded'
  list.replaceChildren(...alerts.map((alert) => {
    const item = make('li', 'alert-item')
    item.dataset.severity = alert.severity
    item.append(make('strong', '', describe(alert)), make('span', 'muted', ` since ${formatClock(Date.parse(alert.since))}`))
    return item
  }))
  return alerts.map((alert) => alert.name).join('\n')
}

/** The timeline card: what the rules are, and their recent transitions, newest first. */
export function renderAlertsView (view) {
  setThresholds(view.rules)
  setText('alerts-rules', view.rules.length === 0
    ? 'No alert rules (alerts: false).'
    : `${view.rules.length} rule${view.rules.length === 1 ? '' : 's'}: ${view.rules.map((rule) => `${rule.name} (${rule.metric} ${rule.direction} ${rule.threshold}, ${rule.forMs / 1000} s, ${rule.severity}${rule.shed ? ', sheds load' : ''})`).join('; ')}`)
  byId('alerts-empty').hidden = view.transitions.length > 0
  byId('alerts-transitions').replaceChildren(...view.transitions.map((event) => {
    const item = make('li', 'transition')
    item.dataset.type = event.type
    item.append(
      make('time', 'muted', formatClock(Date.parse(event.timestamp))),
      make('span', 'transition-type', event.type === 'fired' ? ` fired (${event.severity}) ` : ' resolved '),
      make('span', '', describe(event))
    )
    return item
  }))
}
