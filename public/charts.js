/* global Chart, document, getComputedStyle */
// The charts: created once, then only their data changes (chart.update('none')). The cards hand them their data
// through the render functions below; the colours come from theme.js.
import { byId } from './dom.js'
import { DEFAULT_RANGE, RANGES } from './ranges.js'
import { currentTheme, endpointColour, reloadTheme, statusColour, withAlpha } from './theme.js'
import { clockFormat, formatBytes, formatClock, formatCount, formatDuration, formatPercent, formatRate, isNumber, minuteFormat } from './format.js'

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const TICK_STEPS = [SECOND, 2 * SECOND, 5 * SECOND, 10 * SECOND, 15 * SECOND, 30 * SECOND, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE,
  15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR]
const MAX_TIME_TICKS = 6
const charts = {}
let lastHistory = null

export function setChartDefaults () {
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily
  Chart.defaults.font.size = 11
  Chart.defaults.animation = false
  Chart.defaults.maintainAspectRatio = false
  Chart.defaults.plugins.legend.labels.usePointStyle = true
  Chart.defaults.plugins.legend.labels.pointStyle = 'circle'
  Chart.defaults.plugins.legend.labels.boxWidth = 7
  Chart.defaults.plugins.legend.labels.boxHeight = 7
  // Legend markers in the line colour, also for the series drawn as a filled area; a line's key a little bolder
  // than the line, so that its dashes read at legend size.
  const generateLabels = Chart.defaults.plugins.legend.labels.generateLabels
  Chart.defaults.plugins.legend.labels.generateLabels = (chart) =>
    generateLabels(chart).map((label) => chart.config.type === 'line'
      // With point styles the labels take the (undashed) points' style: the line's dashes are the dataset's.
      ? { ...label, fillStyle: label.strokeStyle, lineWidth: 2.5, lineDash: chart.data.datasets[label.datasetIndex].borderDash ?? [] }
      : { ...label, fillStyle: label.strokeStyle })
  Chart.defaults.plugins.tooltip.padding = 8
  Chart.defaults.plugins.tooltip.cornerRadius = 6
  Chart.defaults.plugins.tooltip.boxPadding = 4
  applyChartDefaultsTheme()
}

function applyChartDefaultsTheme () {
  const theme = currentTheme()
  Chart.defaults.color = theme.muted
  Chart.defaults.borderColor = theme.grid
}

/**
 * A time series chart over the history response: `series` name the history series; `transform` turns a value
 * into what is drawn (utilisation 0..1 into percent).
 */
function createLineChart (canvasId, { series, y, y1 }) {
  const datasets = series.map((item, index) => ({
    label: item.label,
    // Chart.js draws the lowest order last, on top: each series is drawn over the ones listed before it, so that a
    // line equal to an earlier one (p99 = p95) is seen, not hidden under it.
    order: series.length - index,
    data: [],
    seriesName: item.name,
    transform: item.transform,
    colourToken: item.colour,
    fillArea: item.fill === true,
    borderDash: DASHES[item.dash ?? 'solid'],
    borderWidth: item.dash === 'dotted' ? 2.25 : 1.75,
    yAxisID: item.axis ?? 'y',
    stepped: item.stepped ?? false,
    format: item.axis === 'y1' ? y1.format : y.format
  }))
  const bytes = y.format === formatBytes
  const axis = (config, position) => ({
    position,
    beginAtZero: true,
    suggestedMax: config.suggestedMax,
    max: config.max,
    border: { display: false },
    grid: { drawOnChartArea: position === 'left' },
    ticks: { maxTicksLimit: 6, callback: (value) => config.format(value) }
  })
  const scales = {
    x: {
      type: 'linear',
      grid: { display: false },
      border: { display: false },
      ticks: { maxRotation: 0, autoSkipPadding: 16, callback: formatTimeTick },
      afterBuildTicks: roundTimeTicks
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
        // Legend and tooltip keep the listed order, not the drawing order. Each legend key is a short stretch of
        // its line, dashes and all, so that two series of one colour family or one value still tell apart.
        legend: { position: 'top', align: 'end', labels: { sort: byDatasetIndex, pointStyle: 'line', pointStyleWidth: 18 } },
        tooltip: {
          itemSort: byDatasetIndex,
          callbacks: {
            title: (items) => items.length > 0 ? formatClock(items[0].parsed.x) : '',
            label: (item) => `${item.dataset.label}: ${item.dataset.format(item.parsed.y)}`
          }
        }
      }
    }
  })
  chart.bytesAxis = bytes
  applyLineTheme(chart)
  return chart
}

const byDatasetIndex = (a, b) => a.datasetIndex - b.datasetIndex

/** The line patterns: a series listed with `dash` is drawn (and keyed in the legend) with it. */
const DASHES = { solid: undefined, dashed: [6, 4], dotted: [2, 3] }

/** A round step for a bytes axis: 1, 2 or 5 (times 10, 100) KiB, MiB or GiB, about four steps to the top. */
function byteStep (max) {
  const raw = Math.max(1, max / 4)
  const unit = 1024 ** Math.floor(Math.log(raw) / Math.log(1024))
  const multiple = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].find((candidate) => candidate * unit >= raw) ?? 1024
  return multiple * unit
}

function applyLineTheme (chart) {
  const theme = currentTheme()
  for (const dataset of chart.data.datasets) {
    const colour = theme.palette[dataset.colourToken]
    dataset.borderColor = colour
    dataset.backgroundColor = dataset.fillArea ? withAlpha(colour, 0.12) : colour
    dataset.fill = dataset.fillArea ? 'origin' : false
    dataset.pointHoverBackgroundColor = colour
  }
}

const MS_AXIS = { format: formatDuration }

export function createCharts () {
  charts.latency = createLineChart('chart-latency', {
    series: [
      { name: 'p50Ms', label: 'p50', colour: 'c1' },
      { name: 'p95Ms', label: 'p95', colour: 'c2', dash: 'dashed' },
      // Dotted and drawn over p95, so that where the two are equal both show: dots of one on the dashes of the other.
      { name: 'p99Ms', label: 'p99', colour: 'c7', dash: 'dotted' }
    ],
    y: MS_AXIS
  })
  charts.throughput = createLineChart('chart-throughput', {
    series: [
      { name: 'requestsPerSecond', label: 'Requests/s', colour: 'c1', fill: true },
      { name: 'errorsPerSecond', label: 'Errors/s (5xx)', colour: 'c3', fill: true }
    ],
    y: { format: (value) => `${Number.isInteger(value) ? value : formatRate(value)}/s` }
  })
  charts.memory = createLineChart('chart-memory', {
    series: [
      { name: 'rss', label: 'RSS', colour: 'c5', fill: true },
      { name: 'heapTotal', label: 'Heap total', colour: 'c2', dash: 'dashed' },
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
    data: { labels: [], datasets: [{ data: [], backgroundColor: [], borderWidth: 2, borderColor: currentTheme().surface, hoverOffset: 4 }] },
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
export function ensureDatabaseChart () {
  if (charts.database) return
  charts.database = createLineChart('chart-database', {
    series: [
      { name: 'dbPingMs', label: 'Ping', colour: 'c6' },
      { name: 'dbCommandP95Ms', label: 'Command p95', colour: 'c2' },
      { name: 'dbPoolInUse', label: 'Pool in use', colour: 'c5', axis: 'y1', stepped: true }
    ],
    y: MS_AXIS,
    y1: { format: (value) => Number.isInteger(value) ? formatCount(value) : '', suggestedMax: 4 }
  })
  if (lastHistory) renderLineChart(charts.database, lastHistory)
}

/** The most requested endpoints, `[key, { count }]` in the order drawn, each in its endpoint colour. */
export function renderEndpointChart (top) {
  const chart = charts.endpoints
  chart.data.labels = top.map(([key]) => key)
  chart.data.datasets[0].data = top.map(([, endpoint]) => endpoint.count)
  chart.data.datasets[0].backgroundColor = top.map(([key]) => endpointColour(key))
  chart.update('none')
}

/** The responses by status code, `[code, count]` in the order drawn. */
export function renderStatusChart (entries) {
  const chart = charts.status
  chart.data.labels = entries.map(([code]) => code)
  chart.data.datasets[0].data = entries.map(([, count]) => count)
  chart.data.datasets[0].backgroundColor = entries.map(([code]) => statusColour(code))
  chart.data.datasets[0].borderColor = currentTheme().surface
  chart.update('none')
}

/** Ticks on round local times (12:00:30, 12:01:00, ...) rather than at steps from the first point. */
function roundTimeTicks (scale) {
  const step = scale.options.ticks.stepSize
  const shift = -new Date(scale.max).getTimezoneOffset() * MINUTE
  const ticks = []
  for (let value = Math.ceil((scale.min + shift) / step) * step - shift; value <= scale.max; value += step) {
    ticks.push({ value })
  }
  scale.ticks = ticks
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
  const windowMs = (RANGES[history.range] ?? RANGES[DEFAULT_RANGE]).windowMs
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
  if (chart.bytesAxis) {
    const top = Math.max(0, ...chart.data.datasets.flatMap((dataset) => dataset.data.filter(isNumber)))
    chart.options.scales.y.ticks.stepSize = byteStep(top)
  }
  const { min, max, stepSize } = timeAxis(history)
  const x = chart.options.scales.x
  x.min = min
  x.max = max
  x.ticks.stepSize = stepSize
  chart.update('none')
}

/** Every time series chart from one history response. */
export function renderHistoryCharts (history) {
  lastHistory = history
  for (const name of ['latency', 'throughput', 'memory', 'cpu', 'database']) {
    if (charts[name]) renderLineChart(charts[name], history)
  }
}

/** After a change of colour scheme: the palette is read again and every chart recoloured in place. */
export function retheme () {
  const theme = reloadTheme()
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
}
