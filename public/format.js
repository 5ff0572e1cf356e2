// Numbers, sizes, durations and times in human units.

const integerFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 })
const compactFormat = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 })
export const clockFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false })
export const minuteFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hour12: false })
export const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
export const DASH = '–'

export const isNumber = (value) => typeof value === 'number' && Number.isFinite(value)

export function formatCount (value) {
  if (!isNumber(value)) return DASH
  return value >= 1e6 ? compactFormat.format(value) : integerFormat.format(value)
}

export function formatBytes (value) {
  if (!isNumber(value)) return DASH
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let scaled = Math.abs(value)
  let unit = 0
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024
    unit++
  }
  const digits = unit === 0 || scaled >= 100 ? 0 : 1
  return `${value < 0 ? '-' : ''}${scaled.toFixed(digits)} ${units[unit]}`
}

export function formatDuration (ms) {
  if (!isNumber(ms)) return DASH
  if (ms === 0) return '0 ms'
  if (ms < 1) return `${ms.toFixed(2)} ms`
  if (ms < 10) return `${ms.toFixed(1)} ms`
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`
  const seconds = Math.round(ms / 1000)
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`
}

export function formatPercent (value, digits = 1) {
  if (!isNumber(value)) return DASH
  if (value > 0 && value < 0.1) return '<0.1%'
  return `${value.toFixed(digits)}%`
}

export function formatRate (value) {
  if (!isNumber(value)) return DASH
  return value >= 100 ? integerFormat.format(value) : value.toFixed(value >= 10 ? 1 : 2)
}

export const formatClock = (time) => clockFormat.format(new Date(time))
