// Building the page: elements are made with createElement and server text only ever goes in as textContent.

export const byId = (id) => document.getElementById(id)

export function setText (id, text) {
  const element = typeof id === 'string' ? byId(id) : id
  if (element.textContent !== text) element.textContent = text
}

export function make (tag, className, text) {
  const element = document.createElement(tag)
  if (className) element.className = className
  if (text !== undefined) element.textContent = text
  return element
}

export function pill (status) {
  const element = make('span', 'pill', status)
  element.dataset.status = status
  return element
}

export function swatch (colour) {
  const element = make('i', 'swatch')
  element.style.background = colour
  return element
}
