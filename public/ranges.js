/* global document */
// The history's ranges, read from the range buttons the server renders from lib/schemas/history.ts: the page
// keeps no copy of them.
const buttons = [...document.querySelectorAll('#range button[data-range]')]

/** range => { windowMs, stepMs, label } */
export const RANGES = Object.fromEntries(buttons.map((button) => [button.dataset.range, {
  windowMs: Number(button.dataset.spanMs),
  stepMs: Number(button.dataset.stepMs),
  label: button.textContent
}]))

/** The range the server checked first: the history API's default. */
export const DEFAULT_RANGE = buttons.find((button) => button.getAttribute('aria-checked') === 'true')?.dataset.range ?? buttons[0]?.dataset.range

/** The range that keeps every sample: the one the live stream's points join. */
export const LIVE_RANGE = Object.keys(RANGES).find((range) => RANGES[range].stepMs === 0) ?? DEFAULT_RANGE
