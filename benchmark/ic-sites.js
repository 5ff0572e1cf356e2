// Which inline caches one server has megamorphic that another has not (issue 31, "Code loaded, not code run" in
// README.md): each variant of hook-server.js runs under `--log-ic` for 20,000 requests, and the log's last state of
// every site (its code object, line and column, and the property) is compared.
//
//   npm run build && node benchmark/ic-sites.js 'ladder 5: an onError hook' 'ladder 5 with TypeBox loaded'
//   BENCH_PRELOAD_B=./fixtures/event-emitters.js node benchmark/ic-sites.js bare bare   (BENCH_PRELOAD for side B only)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isMain, serveThenExit } from './common.js'

function logIcs (variant, file, env = process.env) {
  return serveThenExit(variant, { nodeArgs: ['--log-ic', `--logfile=${file}`, '--no-logfile-per-isolate'], env, requests: 20_000 })
}

/** Every site's last state ('N' is megamorphic), keyed by kind, code object, line, column and property. */
function readSites (file) {
  const codes = []
  const last = new Map()
  for (const line of readFileSync(file, 'latin1').split('\n')) {
    // The log is CSV; the fields read here hold no comma (a code's name, the seventh field, has none).
    const fields = line.split(',')
    if (fields[0] === 'code-creation' && fields.length >= 7) {
      const start = Number.parseInt(fields[4], 16)
      codes.push({ start, end: start + Number(fields[5]), name: fields[6].split(' ').at(-1) })
    } else if (fields[0].endsWith('IC') && fields.length >= 9 && fields[1].startsWith('0x')) {
      last.set(`${fields[1]}|${fields[0]}|${fields[3]}:${fields[4]}|${fields[8]}`, fields[6])
    }
  }
  codes.sort((a, b) => a.start - b.start)
  const codeAt = (pc) => {
    let low = 0
    let high = codes.length - 1
    while (low <= high) {
      const middle = (low + high) >> 1
      if (codes[middle].start <= pc) low = middle + 1
      else high = middle - 1
    }
    const code = codes[high]
    return code !== undefined && pc < code.end ? code.name : '?'
  }
  const sites = new Map()
  for (const [key, state] of last) {
    const [pc, kind, position, property] = key.split('|')
    sites.set(`${kind} ${codeAt(Number.parseInt(pc, 16))} ${position} ${property}`, state)
  }
  return sites
}

if (isMain(import.meta.url)) {
  const [a, b] = process.argv.slice(2)
  if (a === undefined || b === undefined) {
    console.error('usage: node benchmark/ic-sites.js <variant A> <variant B>')
    process.exit(2)
  }
  const dir = mkdtempSync(join(tmpdir(), 'sw-ic-'))
  try {
    await logIcs(a, join(dir, 'a.log'))
    const envB = process.env.BENCH_PRELOAD_B === undefined ? process.env : { ...process.env, BENCH_PRELOAD: process.env.BENCH_PRELOAD_B }
    await logIcs(b, join(dir, 'b.log'), envB)
    const sitesA = readSites(join(dir, 'a.log'))
    const sitesB = readSites(join(dir, 'b.log'))
    const count = (sites) => [...sites.values()].filter((state) => state === 'N').length
    const onlyB = [...sitesB].filter(([site, state]) => state === 'N' && sitesA.get(site) !== 'N')
    console.log(`megamorphic sites: ${count(sitesA)} in ${a}, ${count(sitesB)} in ${b}; in ${b} only:`)
    for (const [site] of onlyB.sort()) console.log(`  ${site} (in ${a}: ${sitesA.get(site) ?? 'not reached'})`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
