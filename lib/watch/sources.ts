import type { FastifyBaseLogger } from 'fastify'
import { readCgroupLimits } from '../collectors/cgroup.js'
import { createChecksCollector } from '../collectors/checks.js'
import { createCpuCollector } from '../collectors/cpu.js'
import { createEventLoopCollector } from '../collectors/event-loop.js'
import { createGcCollector, type GcFigures } from '../collectors/gc.js'
import { createHeapTrendCollector } from '../collectors/heap-trend.js'
import { createMongoCollector } from '../collectors/mongo/index.js'
import { createProcessCollector, type ProcessCollector } from '../collectors/process.js'
import { createSystemCollector } from '../collectors/system.js'
import type { Collector } from '../collectors/types.js'
import type { NormalizedOptions } from '../options.js'
import type { SamplerClock } from '../sampler.js'
import type { DatabaseSnapshot } from '../schemas/database.js'

const NOT_CONFIGURED: Collector<DatabaseSnapshot> = {
  sample () {},
  read: () => ({ status: 'not_configured' }),
  close () {}
}

/** Every sampled source (lib/collectors/), by name, and all of them as one list for the sample step and close. */
export interface Sources {
  processMemory: ProcessCollector
  cpu: ReturnType<typeof createCpuCollector>
  eventLoop: ReturnType<typeof createEventLoopCollector>
  system: ReturnType<typeof createSystemCollector>
  heapTrend: ReturnType<typeof createHeapTrendCollector>
  checks: ReturnType<typeof createChecksCollector>
  database: Collector<DatabaseSnapshot>
  /** Garbage collections by kind: only /metrics reads them, so without it there is no observer (null). */
  gc: Collector<GcFigures> | null
  all: ReadonlyArray<Collector<unknown>>
}

/** The collectors of one plugin instance, created once from the options. */
export function createSources (options: NormalizedOptions, log: FastifyBaseLogger, clock: SamplerClock): Sources {
  // Once: a container's limits are set when it starts.
  const limits = readCgroupLimits()
  const database = options.mongo === null
    ? NOT_CONFIGURED
    : createMongoCollector(options.mongo.client, {
      timeoutMs: options.checkTimeoutMs,
      required: options.mongo.required,
      serverStatusIntervalMs: options.mongo.serverStatusIntervalMs,
      log
    })
  const sources = {
    processMemory: createProcessCollector(log, limits),
    cpu: createCpuCollector(limits),
    // The sampler's own wake-up serves as one of the event-loop timer's.
    eventLoop: createEventLoopCollector(undefined, clock.nextDueAt),
    system: createSystemCollector(log),
    heapTrend: createHeapTrendCollector(),
    checks: createChecksCollector(options.checks),
    database,
    gc: options.metricsPath === false ? null : createGcCollector()
  }
  const all: Array<Collector<unknown>> = [sources.processMemory, sources.cpu, sources.eventLoop, sources.system, sources.heapTrend, sources.checks, database]
  if (sources.gc !== null) all.push(sources.gc)
  return { ...sources, all }
}
