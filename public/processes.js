// Shared mode (the `shared` option): every live process of the app in a small table, and a selector that shows the
// fleet (the default) or one process in the charts. Absent from the snapshot, both stay hidden.
import { byId, make, pill, setText } from './dom.js'
import { DASH, formatBytes, formatCount, formatDuration, formatRate, isNumber } from './format.js'

const uptime = (seconds) => seconds >= 86_400
  ? `${Math.floor(seconds / 86_400)}d ${Math.floor(seconds % 86_400 / 3600)}h`
  : seconds >= 3600 ? `${Math.floor(seconds / 3600)}h ${Math.floor(seconds % 3600 / 60)}m` : seconds >= 60 ? `${Math.floor(seconds / 60)}m ${seconds % 60}s` : `${seconds}s`

/** `worker 2 · pid 1234`, or the pid alone when the process manager gives no worker id. */
export const processLabel = (row) => row.workerId === null ? `pid ${row.pid}` : `worker ${row.workerId} · pid ${row.pid}`

/**
 * Fills the table and the selector from `snapshot.processes`; returns the selected id, which falls back to '' (the
 * fleet) when the process it named is gone.
 */
export function renderProcesses (snapshot, selected) {
  const rows = snapshot.processes
  const card = byId('processes')
  const picker = byId('process-picker')
  card.hidden = rows === undefined
  picker.hidden = rows === undefined
  if (rows === undefined) return ''
  const live = rows.some((row) => row.id === selected)
  const current = live ? selected : ''
  setText('processes-count', `${rows.length} live`)

  const select = byId('process')
  const options = [['', `All processes (${rows.length})`], ...rows.map((row) => [row.id, processLabel(row)])]
  const same = select.options.length === options.length && options.every(([value, label], i) => select.options[i].value === value && select.options[i].textContent === label)
  if (!same) {
    select.replaceChildren(...options.map(([value, label]) => {
      const option = make('option', '', label)
      option.value = value
      return option
    }))
  }
  select.value = current
  // The memory chart is the fleet's (or the selected process's): so are the figures above it.
  const shown = current === '' ? null : rows.find((row) => row.id === current)
  const fleet = snapshot.fleet
  setText('mem-rss', formatBytes(shown === null ? fleet.rss : shown.rss))
  setText('mem-heap', formatBytes(shown === null ? fleet.heapUsed : shown.heapUsed))
  setText('mem-rss-label', shown === null ? 'RSS (all)' : `RSS (pid ${shown.pid})`)
  setText('mem-heap-label', shown === null ? 'Heap used (all)' : `Heap (pid ${shown.pid})`)

  const body = byId('processes-body')
  body.replaceChildren(...rows.map((row) => {
    const tr = make('tr')
    tr.dataset.id = row.id
    if (row.id === current) tr.setAttribute('aria-selected', 'true')
    const pidCell = make('td', '', String(row.pid))
    if (row.self) pidCell.append(make('span', 'muted', ' (this one)'))
    tr.append(
      pidCell,
      make('td', '', row.workerId ?? DASH),
      make('td', 'hide-narrow', row.release ?? DASH),
      make('td', 'num', uptime(row.uptimeSeconds)),
      make('td', 'num', formatRate(row.requestsPerSecond)),
      make('td', 'num hide-narrow', formatCount(row.totalRequests)),
      make('td', 'num', isNumber(row.p95Ms) ? formatDuration(row.p95Ms) : DASH),
      make('td', 'num', isNumber(row.rss) ? formatBytes(row.rss) : DASH)
    )
    const status = make('td')
    status.append(pill(row.status))
    tr.append(status)
    return tr
  }))
  return current
}

/** Calls `onSelect(id)` when the selector changes or a table row is clicked ('' for the fleet). */
export function watchProcessSelection (onSelect) {
  byId('process').addEventListener('change', (event) => onSelect(event.target.value))
  byId('processes-body').addEventListener('click', (event) => {
    const row = event.target.closest('tr[data-id]')
    if (row !== null) onSelect(row.getAttribute('aria-selected') === 'true' ? '' : row.dataset.id)
  })
}
