import type { CallFrame } from './cpu.js'
import { connectSession, wait } from './session.js'

/** A `.heapprofile` (the inspector's `HeapProfiler.SamplingHeapProfile`), which DevTools' Memory panel loads. */
export interface SamplingHeapProfile {
  head: SamplingNode
  samples?: Array<{ size: number, nodeId: number, ordinal: number }>
}

export interface SamplingNode {
  callFrame: CallFrame
  selfSize: number
  id: number
  children: SamplingNode[]
}

/**
 * Samples allocations for `ms`: about one allocation per 32 KiB allocated is recorded with its stack, far cheaper
 * than a snapshot. Objects collected during the capture are kept in the profile, so it shows where memory is
 * allocated, not only what survives.
 */
export async function captureAllocationProfile (ms: number, signal: AbortSignal): Promise<SamplingHeapProfile> {
  const inspector = connectSession()
  try {
    await inspector.post('HeapProfiler.enable')
    await inspector.post('HeapProfiler.startSampling', {
      samplingInterval: 32_768,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true
    })
    await wait(ms, signal)
    const { profile } = await inspector.post<{ profile: SamplingHeapProfile }>('HeapProfiler.stopSampling')
    return profile
  } finally {
    inspector.disconnect()
  }
}
