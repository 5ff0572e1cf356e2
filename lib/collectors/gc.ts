import { constants, PerformanceObserver } from 'node:perf_hooks'
import { Histogram } from '../histogram.js'
import type { Collector } from './types.js'

/** Garbage collections and their pauses, by kind (`major`, `minor`, `incremental`, `weakcb`, `other`). */
export type GcFigures = ReadonlyMap<string, Histogram>

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb'
}

/**
 * Counts garbage collections and their pauses by kind from `gc` performance entries, which Node delivers on its
 * own schedule: nothing to do on a sample. Created only when /metrics is on, its one reader.
 */
export function createGcCollector (): Collector<GcFigures> & { readonly byKind: GcFigures } {
  const byKind = new Map<string, Histogram>()
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      const kind = GC_KINDS[(entry as { detail?: { kind?: number } | null }).detail?.kind ?? -1] ?? 'other'
      let histogram = byKind.get(kind)
      if (histogram === undefined) {
        histogram = new Histogram()
        byKind.set(kind, histogram)
      }
      histogram.record(entry.duration)
    }
  })
  observer.observe({ entryTypes: ['gc'] })
  return {
    byKind,
    sample () {},
    read: () => byKind,
    close: () => observer.disconnect()
  }
}
