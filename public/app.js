/* global document, window, EventSource, fetch */
// The fastify-server-watch dashboard. Plain browser JavaScript modules, no build step. Every URL is relative to the
// <base href> the server puts in index.html, so the page works under any prefix.
import { renderActiveAlerts, renderAlertsView } from './alerts.js'
import { renderEndpoints, renderPeak, renderSnapshot } from './cards.js'
import { createCharts, renderHistoryCharts, retheme, setChartDefaults } from './charts.js'
import { renderBreakdown } from './breakdown.js'
import { renderCustomMetrics } from './custom.js'
import { renderErrorGroups, renderThisRelease } from './errors.js'
import { byId, setText } from './dom.js'
import { renderProcesses, watchProcessSelection } from './processes.js'
import { DEFAULT_RANGE, LIVE_RANGE, RANGES } from './ranges.js'

const POLL_MS = 5_000
const STREAM_RETRY_MS = 30_000

const state = {
  range: readStoredRange(),
  sort: 'count',
  snapshot: null,
  history: null,
  /** Shared mode: the id of the one process the charts show, or '' for the fleet. */
  process: '',
  /** The names of the rules firing at the last update: a change re-reads the alerts timeline. */
  firing: null
}

function readStoredRange () {
  try {
    const stored = window.localStorage.getItem('server-watch-range')
    return stored in RANGES ? stored : DEFAULT_RANGE
  } catch {
    return DEFAULT_RANGE
  }
}

// ---------------------------------------------------------------------------------------------------------------
// History and snapshot

function showSnapshot (snapshot) {
  state.snapshot = snapshot
  renderSnapshot(snapshot, state)
  renderCustomMetrics(snapshot.custom)
  renderErrorGroups(snapshot.application.errorGroups)
  renderThisRelease(snapshot.releases, snapshot.application.errorGroups)
  renderBreakdown(snapshot)
  const process = renderProcesses(snapshot, state.process)
  // The selected process is gone: back to the fleet.
  if (process !== state.process) selectProcess(process)
  const firing = renderActiveAlerts(snapshot.alerts ?? [])
  if (state.firing !== null && firing !== state.firing) refresh()
  state.firing = firing
}

function showHistory () {
  if (!state.history) return
  renderHistoryCharts(state.history)
  renderPeak(state.history)
}

/** A live sample joins the every-sample (5 minute) history at once; the coarser ranges are re-read when a step has passed. */
function appendPoint (point) {
  const history = state.history
  if (!history || !point) return
  // The live points are the fleet's: one process's charts are read again instead.
  if (state.process !== '') {
    refresh()
    return
  }
  const last = history.timestamps.at(-1) ?? -Infinity
  if (point.timestamp <= last) return
  if (history.range !== LIVE_RANGE) {
    if (point.timestamp - last >= history.stepMs) refresh()
    return
  }
  const cutoff = point.timestamp - RANGES[LIVE_RANGE].windowMs
  let drop = 0
  while (drop < history.timestamps.length && history.timestamps[drop] <= cutoff) drop++
  // New arrays rather than push/shift: the charts hold references to these.
  history.timestamps = [...history.timestamps.slice(drop), point.timestamp]
  for (const name of Object.keys(history.series)) {
    history.series[name] = [...history.series[name].slice(drop), point.values[name] ?? null]
  }
  showHistory()
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
        // One process: its last five minutes, whatever the range.
        const history = await getJson(state.process === ''
          ? `api/history?range=${encodeURIComponent(state.range)}`
          : `api/history?range=${encodeURIComponent(LIVE_RANGE)}&process=${encodeURIComponent(state.process)}`)
        const snapshot = await getJson('api/snapshot')
        const alerts = await getJson('api/alerts')
        state.history = history
        renderAlertsView(alerts)
        state.firing = alerts.active.map((alert) => alert.name).join('\n')
        showSnapshot(snapshot)
        showHistory()
        reachable(true)
      } while (again)
    } catch (error) {
      reachable(false, `Cannot reach the server: ${error.message}`)
    } finally {
      running = null
      button.setAttribute('aria-busy', 'false')
    }
  })()
  return running
}

const live = { failed: false, source: null, pollTimer: null, retryTimer: null }
const MODES = {
  connecting: ['Connecting', 'Reading the first figures'],
  live: ['Live', 'Every sample is pushed to this page as it is taken'],
  polling: ['Polling', `The live stream is not available: this page asks for new figures every ${POLL_MS / 1000} s`],
  paused: ['Paused', 'Updates stop while the tab is hidden'],
  offline: ['Offline', 'The last request to the server failed; retrying']
}

function reachable (ok, problem) {
  live.failed = !ok
  const banner = byId('banner')
  banner.hidden = ok
  setText(banner, ok ? '' : problem)
  showMode()
}

/** The connection indicator, from the state of the stream, the polling and the last request. */
function showMode () {
  const mode = document.hidden
    ? 'paused'
    : live.failed
      ? 'offline'
      : live.source?.readyState === EventSource.OPEN
        ? 'live'
        : live.pollTimer !== null ? 'polling' : 'connecting'
  const element = byId('connection')
  element.dataset.mode = mode
  element.title = MODES[mode][1]
  setText(element, MODES[mode][0])
}

function openStream () {
  if (document.hidden || live.source !== null) return
  const source = new EventSource('api/stream')
  live.source = source
  source.addEventListener('open', () => {
    stopPolling()
    showMode()
  })
  source.addEventListener('sample', (event) => {
    const { snapshot, point, endpointChanges } = JSON.parse(event.data)
    // The whole endpoint table comes in a stream's first frame; later frames bring the routes that moved since the
    // previous sample, so that the table and the cards show the same sample.
    snapshot.application.endpoints ??= { ...state.snapshot?.application.endpoints, ...endpointChanges }
    showSnapshot(snapshot)
    appendPoint(point)
    reachable(true)
  })
  source.addEventListener('error', () => {
    // Past the server's stream cap, behind a proxy that buffers, or the server went away: poll, and try the
    // stream again later.
    closeStream()
    startPolling()
    showMode()
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
  showMode()
}

async function resume () {
  showMode()
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

function selectProcess (id) {
  if (id === state.process) return
  state.process = id
  refresh()
}

function sortEndpoints (sort) {
  state.sort = sort
  for (const header of byId('endpoints-table').querySelectorAll('th[aria-sort]')) {
    header.setAttribute('aria-sort', header.querySelector('button').dataset.sort === sort ? 'descending' : 'none')
  }
  if (state.snapshot) renderEndpoints(state.snapshot.application.endpoints, state.sort)
}

function onThemeChange () {
  retheme()
  if (state.snapshot) showSnapshot(state.snapshot)
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
  watchProcessSelection(selectProcess)
  byId('endpoints-table').querySelector('thead').addEventListener('click', (event) => {
    const button = event.target.closest('button[data-sort]')
    if (button !== null) sortEndpoints(button.dataset.sort)
  })
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) pause()
    else resume()
  })
  window.matchMedia('(prefers-color-scheme: dark)').addEventListener('change', onThemeChange)

  if (document.hidden) showMode()
  else resume()
}

main()
