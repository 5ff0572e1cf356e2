import type { Alert, AlertEvent, AlertRuleView, AlertsView } from '../schemas/alerts.js'
import { worstStatus, type HealthStatus } from '../status.js'
import type { NormalizedRule } from './rules.js'

/** Transitions kept for the dashboard's timeline. */
export const MAX_TRANSITIONS = 50

type State = 'ok' | 'pending' | 'firing' | 'clearing'
interface RuleState { rule: NormalizedRule, state: State, since: number, firedAt: number, value: number | null }

/** A clearing rule still fires until it has been back for `clearForMs`. */
const fires = (state: State) => state === 'firing' || state === 'clearing'

/** What an alert and a transition both say of their rule. */
const described = (rule: NormalizedRule, value: number | null) => ({
  name: rule.name,
  metric: rule.metric,
  value,
  direction: rule.direction,
  threshold: rule.threshold,
  severity: rule.severity
})

/**
 * The rules' state machine, fed one value per rule per sample, with the sample's time (no clock of its own):
 * ok -> pending when the figure crosses its threshold; pending -> firing after `forMs` past it (a `fired` event);
 * firing -> clearing when it is back; clearing -> ok after `clearForMs` back (a `resolved` event), or firing again
 * if it crosses before. A figure with no value (null) counts as back: a rule never fires on missing data.
 */
export class AlertEngine {
  private readonly states: RuleState[]
  private readonly transitions: AlertEvent[] = []
  /** Read on the request path by shedding: true while a rule with `shed` fires. */
  shedding = false
  /** The name of a firing rule with `shed`, for the 503's message. */
  shedBy = ''

  constructor (rules: readonly NormalizedRule[], private readonly identity: { hostname: string, pid: number }) {
    this.states = rules.map((rule) => ({ rule, state: 'ok', since: 0, firedAt: 0, value: null }))
  }

  /** Evaluates every rule at `now`; returns the transitions of this sample. */
  evaluate (now: number, read: (rule: NormalizedRule) => number | null): AlertEvent[] {
    const events: AlertEvent[] = []
    let shedding = false
    for (const entry of this.states) {
      const { rule } = entry
      const value = read(rule)
      entry.value = value
      const past = value !== null && (rule.direction === 'above' ? value > rule.threshold : value < rule.threshold)
      switch (entry.state) {
        case 'ok':
          if (past) this.enter(entry, 'pending', now)
          break
        case 'pending':
          if (!past) this.enter(entry, 'ok', now)
          break
        case 'firing':
          if (!past) this.enter(entry, 'clearing', now)
          break
        case 'clearing':
          if (past) entry.state = 'firing'
          break
      }
      if (entry.state === 'pending' && now - entry.since >= rule.forMs) {
        entry.state = 'firing'
        entry.firedAt = now
        events.push(this.event('fired', entry, now))
      } else if (entry.state === 'clearing' && now - entry.since >= rule.clearForMs) {
        entry.state = 'ok'
        events.push(this.event('resolved', entry, now))
      }
      if (rule.shed && fires(entry.state)) {
        shedding = true
        this.shedBy = rule.name
      }
    }
    this.shedding = shedding
    for (const event of events) {
      this.transitions.unshift(event)
      if (this.transitions.length > MAX_TRANSITIONS) this.transitions.pop()
    }
    return events
  }

  /** Rules that fire now. */
  active (): Alert[] {
    const alerts: Alert[] = []
    for (const { rule, state, firedAt, value } of this.states) {
      if (fires(state)) alerts.push({ ...described(rule, value), since: new Date(firedAt).toISOString() })
    }
    return alerts
  }

  /** The worst severity among the firing rules, as a health status. */
  status (): HealthStatus {
    let status: HealthStatus = 'healthy'
    for (const { rule, state } of this.states) {
      if (fires(state)) status = worstStatus(status, rule.severity)
    }
    return status
  }

  view (): AlertsView {
    const rules: AlertRuleView[] = this.states.map(({ rule }) => ({
      name: rule.name,
      metric: rule.metric,
      direction: rule.direction,
      threshold: rule.threshold,
      forMs: rule.forMs,
      severity: rule.severity,
      shed: rule.shed
    }))
    return { active: this.active(), rules, transitions: [...this.transitions] }
  }

  private enter (entry: RuleState, state: State, now: number): void {
    entry.state = state
    entry.since = now
  }

  private event (type: AlertEvent['type'], { rule, value }: RuleState, now: number): AlertEvent {
    return {
      type,
      ...described(rule, value),
      timestamp: new Date(now).toISOString(),
      hostname: this.identity.hostname,
      pid: this.identity.pid
    }
  }
}
