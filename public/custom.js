/* global Chart, fetch */
// The "Custom metrics" card: the app's own counters, gauges and histograms (snapshot.custom), one row per series,
// and a chart per metric over the last five minutes. Server text (names, help, label values) goes in through
// textContent only.
import { currentTheme } from './theme.js'
import { byId, make } from './dom.js'
import { DASH, formatClock, formatDuration, isNumber } from './format.js'

const numberFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 3 })

function labelText (labels) {
  const entries = Object.entries(labels)
  return entries.length === 0 ? DASH : entries.map(([name, value]) => `${name}=${value}`).join(', ')
}

function valueText (type, series) {
  if (type !== 'histogram') return isNumber(series.value) ? numberFormat.format(series.value) : DASH
  if (series.count === 0) return '0 recorded'
  return `${numberFormat.format(series.count)} · p50 ${formatDuration(series.p50)} · p95 ${formatDuration(series.p95)} · p99 ${formatDuration(series.p99)}`
}

export function renderCustomMetrics (custom = {}) {
  const rows = []
  for (const [name, metric] of Object.entries(custom)) {
    const series = metric.values.length === 0 ? [null] : metric.values
    for (const value of series) {
      const row = make('tr')
      const nameCell = make('td')
      nameCell.append(make('span', 'route', name))
      nameCell.title = metric.help
      row.append(
        nameCell,
        make('td', 'check-kind', metric.type),
        make('td', '', value === null ? DASH : labelText(value.labels)),
        make('td', 'num', value === null ? DASH : valueText(metric.type, value))
      )
      rows.push(row)
    }
  }
  byId('custom-empty').hidden = rows.length > 0
  byId('custom-table').hidden = rows.length === 0
  byId('custom-body').replaceChildren(...rows)
  if (rows.length > 0) refreshHistory()
}

// ---------------------------------------------------------------------------------------------------------------
// Charts: created once per metric, updated in place; one history request at a time.

const customCharts = new Map()
let loading = null
let again = false

function refreshHistory () {
  if (loading) {
    again = true
    return
  }
  loading = (async () => {
    try {
      do {
        again = false
        const response = await fetch('api/custom-history', { headers: { accept: 'application/json' }, cache: 'no-store' })
        if (response.ok) renderCustomHistory(await response.json())
      } while (again)
    } catch {
      // The snapshot's own update reports an unreachable server.
    } finally {
      loading = null
    }
  })()
}

function formatFigure (figure, value) {
  if (!isNumber(value)) return DASH
  return figure === 'p95 ms' ? formatDuration(value) : numberFormat.format(value)
}

function renderCustomHistory (history) {
  const box = byId('custom-charts')
  for (const [name, { figure, values }] of Object.entries(history.series)) {
    let chart = customCharts.get(name)
    if (chart === undefined) {
      const item = make('figure', 'custom-chart')
      const canvas = make('canvas')
      canvas.setAttribute('role', 'img')
      canvas.setAttribute('aria-label', `${name}, ${figure}, over the last five minutes`)
      const frame = make('div', 'chart-box')
      frame.append(canvas)
      item.append(make('figcaption', '', `${name} · ${figure}`), frame)
      box.append(item)
      chart = new Chart(canvas, {
        type: 'line',
        data: { datasets: [{ label: name, data: [], borderColor: currentTheme().palette[`c${(customCharts.size % 12) + 1}`], spanGaps: false }] },
        options: {
          animation: false,
          elements: { point: { radius: 0, hitRadius: 4 }, line: { borderWidth: 1.75, tension: 0.2 } },
          scales: {
            x: { type: 'linear', ticks: { maxTicksLimit: 4, callback: (value) => formatClock(value) } },
            y: { beginAtZero: true, ticks: { maxTicksLimit: 4, callback: (value) => formatFigure(figure, value) } }
          },
          plugins: {
            legend: { display: false },
            tooltip: {
              callbacks: {
                title: (items) => items.length > 0 ? formatClock(items[0].parsed.x) : '',
                label: (item) => formatFigure(figure, item.parsed.y)
              }
            }
          }
        }
      })
      customCharts.set(name, chart)
    }
    chart.data.datasets[0].data = history.timestamps.map((x, i) => ({ x, y: values[i] }))
    chart.update('none')
  }
  box.hidden = customCharts.size === 0
}
