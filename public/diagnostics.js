// The slowest requests and the leak signs cards. Server text goes in through textContent only.
import { byId, make, setText } from './dom.js'
import { formatBytes, formatClock, formatDuration } from './format.js'

export function renderDiagnostics (snapshot) {
  renderSlowest(snapshot.application.slowestRequests ?? [])
  renderHeapTrend(snapshot.memory.process.heapTrend)
}

function renderSlowest (requests) {
  byId('slowest-wrap').hidden = requests.length === 0
  byId('slowest-empty').hidden = requests.length > 0
  byId('slowest-body').replaceChildren(...requests.map((request) => {
    const row = make('tr')
    const where = make('td')
    where.append(make('span', 'method', request.method), document.createTextNode(` ${request.path}`))
    const at = make('time', '', formatClock(request.timestamp))
    at.dateTime = request.timestamp
    const atCell = make('td', 'num hide-narrow')
    atCell.append(at)
    row.append(where, make('td', 'hide-narrow muted', request.route), make('td', 'num', String(request.statusCode)),
      make('td', 'num', formatDuration(request.durationMs)), atCell)
    return row
  }))
}

function renderHeapTrend (trend) {
  const verdict = byId('heap-trend-verdict')
  if (!trend || trend.points < 2) {
    verdict.dataset.level = ''
    setText(verdict, 'Not enough data yet')
    setText('heap-trend-more', `${trend?.points ?? 0} post-GC baseline${trend?.points === 1 ? '' : 's'} so far (one a minute at most, after a major GC).`)
    return
  }
  const perHour = trend.slopeBytesPerHour ?? 0
  const rate = `${perHour >= 0 ? '+' : '-'}${(Math.abs(perHour) / (1024 * 1024)).toFixed(1)} MB/h`
  verdict.dataset.level = trend.rising ? 'bad' : 'ok'
  setText(verdict, trend.rising ? `Heap baseline rising: ${rate}` : 'Heap baseline steady')
  setText('heap-trend-more', `Heap after the last major GC: ${formatBytes(trend.baselineBytes)}; trend ${rate} over ` +
    `${trend.points} baselines in the last hour.${trend.rising ? ' A heap snapshot or an allocation profile shows what holds it.' : ''}`)
}
