/* global document, getComputedStyle */
// The colours: a fixed palette in the style sheet, so that light and dark schemes each have theirs, and a stable
// colour for every endpoint and status code, so that a colour always means the same thing.

const ENDPOINT_COLOURS = ['c1', 'c2', 'c4', 'c5', 'c6', 'c7', 'c8', 'c9', 'c10', 'c11']
const STATUS_CLASS_COLOURS = { 1: 'c12', 2: 'c4', 3: 'c1', 4: 'c2', 5: 'c3' }

let theme = readTheme()

/** The palette and the chart colours of the current colour scheme. */
export const currentTheme = () => theme

/** After a change of colour scheme: the palette is read again. */
export function reloadTheme () {
  theme = readTheme()
  return theme
}

function readTheme () {
  const style = getComputedStyle(document.documentElement)
  const read = (name) => style.getPropertyValue(`--${name}`).trim()
  const palette = {}
  for (let i = 1; i <= 12; i++) palette[`c${i}`] = read(`c${i}`)
  return { palette, text: read('text'), muted: read('muted'), grid: read('grid'), surface: read('surface') }
}

export function withAlpha (hex, alpha) {
  const match = /^#([0-9a-f]{6})$/i.exec(hex)
  if (match === null) return hex
  const value = parseInt(match[1], 16)
  return `rgba(${value >> 16}, ${(value >> 8) & 255}, ${value & 255}, ${alpha})`
}

/** FNV-1a: the same endpoint keeps the same colour across refreshes, reloads and machines. */
function hash (text) {
  let value = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    value ^= text.charCodeAt(i)
    value = Math.imul(value, 0x01000193)
  }
  return value >>> 0
}

const endpointColours = new Map()

/**
 * An endpoint keeps its colour for the life of the page. New endpoints, taken in name order, start from the
 * colour their key hashes to and take the next one still free, so the same routes get the same colours on every
 * load and no two share one while there are colours left.
 */
export function assignEndpointColours (keys) {
  const fresh = keys.filter((key) => !endpointColours.has(key)).sort()
  for (const key of fresh) {
    const taken = new Set(endpointColours.values())
    const start = hash(key) % ENDPOINT_COLOURS.length
    let token = ENDPOINT_COLOURS[start]
    for (let i = 0; i < ENDPOINT_COLOURS.length; i++) {
      const candidate = ENDPOINT_COLOURS[(start + i) % ENDPOINT_COLOURS.length]
      if (!taken.has(candidate)) {
        token = candidate
        break
      }
    }
    endpointColours.set(key, token)
  }
}

export const endpointColour = (key) => theme.palette[endpointColours.get(key) ?? ENDPOINT_COLOURS[hash(key) % ENDPOINT_COLOURS.length]]

export function statusColour (code) {
  const base = theme.palette[STATUS_CLASS_COLOURS[String(code)[0]] ?? 'c12']
  const number = Number(code)
  // The round code of a class (200, 400, 500) in full colour, its siblings in stable lighter shades.
  if (number % 100 === 0) return base
  return withAlpha(base, [0.75, 0.55, 0.4][hash(String(code)) % 3])
}
