/** The application's commands, from the driver's command monitoring (needs `monitorCommands: true`). */
import type { MongoClientLike, MongoCommandEndedEvent, MongoCommandStartedEvent } from './client-types.js'
import { Histogram, HistogramWindow, bucketIndex } from '../../histogram.js'
import { round } from '../../format.js'
import type { CommandStats, CommandsSnapshot } from '../../schemas/database.js'
import { MAX_COMMAND_NAMES, OTHER_COMMANDS } from './limits.js'

/**
 * The collector's own `ping` and `serverStatus` carry this comment so that they stay out of the application's
 * command stats: `commandStarted` is the only event that shows the command document, so it notes their
 * requestIds and the matching succeeded/failed events are skipped. The requestId is unique per client, unlike
 * the command name (the application may ping too). The document is read, never kept.
 */
export const OWN_COMMAND_COMMENT = 'fastify-server-watch'

/** Tells the end events of the collector's own ping and serverStatus apart, from the requestIds their starts note. */
export class OwnCommandIds {
  private readonly ids = new Set<number>()

  started (event: MongoCommandStartedEvent): void {
    if ((event.commandName === 'ping' || event.commandName === 'serverStatus') &&
      event.command.comment === OWN_COMMAND_COMMENT) {
      if (this.ids.size > 16) this.ids.clear() // a started event never followed by its end: forget it
      this.ids.add(event.requestId)
    }
  }

  /** True when `event` ends one of the collector's own commands (which is then forgotten). */
  ends (event: { requestId: number }): boolean {
    return this.ids.delete(event.requestId)
  }
}

class CommandCounter {
  count = 0
  failures = 0
  readonly histogram = new Histogram()
}

export interface CommandWatch {
  readonly listeners: Array<[string, (event: never) => void]>
  build (): CommandsSnapshot
}

export function createCommandWatch (client: MongoClientLike): CommandWatch {
  const own = new OwnCommandIds()
  const commands = new Map<string, CommandCounter>()
  const allCommands = new CommandCounter()
  const recentCommands = new HistogramWindow(allCommands.histogram)

  function onCommandStarted (event: MongoCommandStartedEvent): void {
    own.started(event)
  }
  function onCommandSucceeded (event: MongoCommandEndedEvent): void {
    if (!own.ends(event)) recordCommand(event.commandName, event.duration, false)
  }
  function onCommandFailed (event: MongoCommandEndedEvent): void {
    if (!own.ends(event)) recordCommand(event.commandName, event.duration, true)
  }
  function recordCommand (name: string, durationMs: number, failed: boolean): void {
    let counter = commands.get(name)
    if (counter === undefined) {
      const key = commands.size < MAX_COMMAND_NAMES ? name : OTHER_COMMANDS
      counter = commands.get(key) ?? new CommandCounter()
      commands.set(key, counter)
    }
    const index = bucketIndex(durationMs)
    for (const stats of [counter, allCommands]) {
      stats.count++
      if (failed) stats.failures++
      stats.histogram.recordAt(index, durationMs)
    }
  }

  function buildCommands (): CommandsSnapshot {
    const recent = recentCommands.advance()
    const recentP95 = recent.quantiles([0.95])[0]!
    if (!client.options.monitorCommands) {
      return {
        monitored: false,
        total: null,
        failures: null,
        averageMs: null,
        latencyMs: { p50: null, p95: null, p99: null, max: null },
        recentP95Ms: null,
        byName: {}
      }
    }
    const byName: Record<string, CommandStats> = {}
    for (const [name, counter] of commands) byName[name] = commandStats(counter)
    const { count, failures, averageMs, p50, p95, p99, max } = commandStats(allCommands)
    return {
      monitored: true,
      total: count,
      failures,
      averageMs,
      latencyMs: { p50, p95, p99, max },
      recentP95Ms: recentP95 === null ? null : round(recentP95),
      byName
    }
  }

  return {
    listeners: [
      ['commandStarted', onCommandStarted],
      ['commandSucceeded', onCommandSucceeded],
      ['commandFailed', onCommandFailed]
    ],
    build: buildCommands
  }
}

function commandStats (counter: CommandCounter): CommandStats {
  const { mean, ...percentiles } = counter.histogram.summary()
  const totalMs = round(counter.histogram.sum)
  return { count: counter.count, failures: counter.failures, averageMs: mean, totalMs, ...percentiles }
}
