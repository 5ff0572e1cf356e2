/* global document, fetch, URL */
// The Diagnostics section: captures a profile, downloads it (fetch, Blob, a download link) and shows its summary.
// Shown only when the server has the profile routes (the `profiles` option). Server text goes in as textContent.
import { byId, make, setText } from './dom.js'
import { formatBytes, formatDuration, formatPercent } from './format.js'

const LABELS = { cpu: 'CPU profile', allocations: 'Allocation profile', heap: 'Heap snapshot' }
const buttons = () => [byId('profile-cpu'), byId('profile-allocations'), byId('profile-heap')]

function seconds () {
  return Number(byId('profile-seconds').value)
}

function labelButtons () {
  setText('profile-cpu', `CPU profile (${seconds()} s)`)
  setText('profile-allocations', `Allocation profile (${seconds()} s)`)
}

function busy (on) {
  for (const button of buttons()) button.disabled = on
  byId('profile-seconds').disabled = on
}

function fileName (response, kind) {
  const match = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')
  return match ? match[1] : `profile.${kind}`
}

function download (blob, name) {
  const url = URL.createObjectURL(blob)
  const link = make('a')
  link.href = url
  link.download = name
  document.body.append(link)
  link.click()
  link.remove()
  // The download has started from the object URL; it can go once the click has been handled.
  setTimeout(() => URL.revokeObjectURL(url), 60_000)
}

async function errorText (response) {
  try {
    const body = await response.json()
    return body.message ?? `HTTP ${response.status}`
  } catch {
    return `HTTP ${response.status}`
  }
}

function renderSummary (last) {
  const wrap = byId('profile-summary-wrap')
  const summary = last?.summary
  if (!summary || summary.top.length === 0) {
    wrap.hidden = true
    return
  }
  const cpu = summary.kind === 'cpu'
  setText('profile-self-head', cpu ? 'Self time' : 'Allocated')
  byId('profile-summary-body').replaceChildren(...summary.top.map((entry) => {
    const row = make('tr')
    const where = entry.url === '' ? '' : `${entry.url.replace(/^file:\/\//, '')}${entry.line > 0 ? `:${entry.line}` : ''}`
    row.append(
      make('td', '', entry.functionName),
      make('td', 'hide-narrow muted', where),
      make('td', 'num', cpu ? formatDuration(entry.self) : formatBytes(entry.self)),
      make('td', 'num', formatPercent(entry.percent))
    )
    return row
  }))
  wrap.hidden = false
}

async function capture (kind) {
  const query = kind === 'heap' ? '' : `?seconds=${seconds()}`
  busy(true)
  setText('profile-status', kind === 'heap' ? 'Taking the heap snapshot…' : `Capturing: ${LABELS[kind]} for ${seconds()} s…`)
  try {
    const response = await fetch(`api/profile/${kind}${query}`, { method: 'POST', headers: { accept: 'application/json' } })
    if (!response.ok) {
      setText('profile-status', `${LABELS[kind]} refused: ${await errorText(response)}`)
      return
    }
    const name = fileName(response, kind)
    const blob = await response.blob()
    download(blob, name)
    const last = await fetch('api/profile/last').then((answer) => answer.ok ? answer.json() : { last: null })
    setText('profile-status', `${LABELS[kind]} saved as ${name} (${formatBytes(blob.size)}).` +
      (kind === 'heap' ? ' Open it in Chrome DevTools, Memory tab.' : ' Top entries below; open the file in Chrome DevTools for the rest.'))
    renderSummary(last.last?.kind === kind ? last.last : null)
  } catch (error) {
    setText('profile-status', `${LABELS[kind]} failed: ${error.message}`)
  } finally {
    busy(false)
  }
}

async function main () {
  if (document.querySelector('meta[name="server-watch-profiles"]')?.content !== 'on') return
  const answer = await fetch('api/profile/last').catch(() => null)
  if (answer === null || !answer.ok) return
  const { last } = await answer.json()
  byId('diagnostics').hidden = false
  renderSummary(last)
  labelButtons()
  byId('profile-seconds').addEventListener('change', labelButtons)
  byId('profile-cpu').addEventListener('click', () => { capture('cpu') })
  byId('profile-allocations').addEventListener('click', () => { capture('allocations') })
  byId('profile-heap').addEventListener('click', () => {
    byId('heap-confirm').hidden = false
    byId('heap-confirm-no').focus()
  })
  byId('heap-confirm-no').addEventListener('click', () => { byId('heap-confirm').hidden = true })
  byId('heap-confirm-yes').addEventListener('click', () => {
    byId('heap-confirm').hidden = true
    capture('heap')
  })
}

main()
