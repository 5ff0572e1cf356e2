import { connectSession, wait } from './session.js'

/** A `.cpuprofile` as Chrome DevTools and speedscope read it (the inspector's `Profiler.Profile`). */
export interface CpuProfile {
  nodes: Array<{
    id: number
    callFrame: CallFrame
    hitCount?: number
    children?: number[]
  }>
  startTime: number
  endTime: number
  samples?: number[]
  timeDeltas?: number[]
}

export interface CallFrame {
  functionName: string
  scriptId: string
  url: string
  lineNumber: number
  columnNumber: number
}

/** Samples this thread's stacks for `ms` (or until `signal` aborts, which rejects and stops the profiler). */
export async function captureCpuProfile (ms: number, signal: AbortSignal): Promise<CpuProfile> {
  const inspector = connectSession()
  try {
    await inspector.post('Profiler.enable')
    await inspector.post('Profiler.start')
    await wait(ms, signal)
    const { profile } = await inspector.post<{ profile: CpuProfile }>('Profiler.stop')
    return profile
  } finally {
    inspector.disconnect()
  }
}
