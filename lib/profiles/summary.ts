import type { SamplingHeapProfile, SamplingNode } from './allocations.js'
import type { CallFrame, CpuProfile } from './cpu.js'
import { round } from '../format.js'

export const SUMMARY_SIZE = 10

export interface FunctionCost {
  functionName: string
  /** The script's URL (a `file://` URL or a `node:` name), '' for V8's own entries. */
  url: string
  /** 1-based, as editors count; 0 when unknown. */
  line: number
  /** Milliseconds for a CPU profile, bytes for an allocation profile. */
  self: number
  /** Share of the profile's total, 0 to 100. */
  percent: number
}

export interface CpuSummary {
  kind: 'cpu'
  durationMs: number
  samples: number
  /** Time in which the thread was waiting for work ("(idle)"). */
  idleMs: number
  top: FunctionCost[]
}

export interface AllocationSummary {
  kind: 'allocations'
  totalBytes: number
  samples: number
  top: FunctionCost[]
}

/** One function, wherever it was called from: DevTools' "bottom-up" grouping. */
const keyOf = (frame: CallFrame) => `${frame.functionName}\u0000${frame.url}\u0000${frame.lineNumber}\u0000${frame.columnNumber}`
const nameOf = (frame: CallFrame) => frame.functionName === '' ? '(anonymous)' : frame.functionName

function topOf (costs: Map<string, { frame: CallFrame, self: number }>, total: number, digits: number): FunctionCost[] {
  return [...costs.values()]
    .filter((cost) => cost.self > 0)
    .sort((a, b) => b.self - a.self)
    .slice(0, SUMMARY_SIZE)
    .map(({ frame, self }) => ({
      functionName: nameOf(frame),
      url: frame.url,
      line: frame.lineNumber + 1,
      self: round(self, digits),
      percent: total > 0 ? round(self / total * 100, 1) : 0
    }))
}

/** Entries that are not code the user can act on. */
const NOT_FUNCTIONS = new Set(['(root)', '(idle)'])

/** The functions that ran most themselves (self time, not counting their callees), from the samples' time deltas. */
export function summarizeCpuProfile (profile: CpuProfile): CpuSummary {
  const frames = new Map<number, CallFrame>()
  for (const node of profile.nodes) frames.set(node.id, node.callFrame)
  const samples = profile.samples ?? []
  const deltas = profile.timeDeltas ?? []
  const selfUs = new Map<number, number>()
  // timeDeltas[i] is the time before sample i: the time of sample i is deltas[i + 1] (the last one gets none).
  for (let i = 0; i < samples.length; i++) {
    const us = deltas[i + 1] ?? 0
    selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + Math.max(0, us))
  }
  const costs = new Map<string, { frame: CallFrame, self: number }>()
  let idleUs = 0
  for (const [id, us] of selfUs) {
    const frame = frames.get(id)
    if (frame === undefined) continue
    if (frame.functionName === '(idle)') idleUs += us
    if (NOT_FUNCTIONS.has(frame.functionName)) continue
    const key = keyOf(frame)
    const cost = costs.get(key)
    if (cost === undefined) costs.set(key, { frame, self: us / 1000 })
    else cost.self += us / 1000
  }
  const durationMs = Math.max(0, (profile.endTime - profile.startTime) / 1000)
  return {
    kind: 'cpu',
    durationMs: round(durationMs, 1),
    samples: samples.length,
    idleMs: round(idleUs / 1000, 1),
    top: topOf(costs, durationMs, 2)
  }
}

/** The places that allocated the most (sampled bytes allocated by the function itself). */
export function summarizeAllocationProfile (profile: SamplingHeapProfile): AllocationSummary {
  const costs = new Map<string, { frame: CallFrame, self: number }>()
  let totalBytes = 0
  // Iterative: a deep call tree must not overflow the stack of the process being diagnosed.
  const stack: SamplingNode[] = [profile.head]
  while (stack.length > 0) {
    const node = stack.pop()!
    for (const child of node.children) stack.push(child)
    if (node.selfSize <= 0) continue
    totalBytes += node.selfSize
    const key = keyOf(node.callFrame)
    const cost = costs.get(key)
    if (cost === undefined) costs.set(key, { frame: node.callFrame, self: node.selfSize })
    else cost.self += node.selfSize
  }
  return { kind: 'allocations', totalBytes, samples: profile.samples?.length ?? 0, top: topOf(costs, totalBytes, 0) }
}
