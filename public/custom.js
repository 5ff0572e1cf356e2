// The "Custom metrics" card: the app's own counters, gauges and histograms (snapshot.custom), one row per series.
// Server text (names, help, label values) goes in through textContent only.
import { byId, make } from './dom.js'
import { DASH, formatDuration, isNumber } from './format.js'

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
}
