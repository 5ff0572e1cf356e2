/**
 * A metric family as the plugin declares it (prom-client keeps a metric's name, labels and collection in one
 * object): its name, type, help, the label names its samples carry, whether it describes this process or the fleet,
 * and how it reads its samples from the read model. The reserved label names are derived from these declarations.
 */
import type { Histogram } from '../histogram.js'
import { labelPairs, type Exposition, type FamilyHead, type MetricType } from './text.js'

/**
 * `process`: figures of the answering process only, written without shared mode (in shared mode they would jump
 * from worker to worker between scrapes). `fleet`: written only in shared mode. `any`: both.
 */
export type Scope = 'process' | 'fleet' | 'any'

/** Writes the samples of one family, label values given in the order of the family's `labels`. */
export class FamilyWriter {
  constructor (private readonly out: Exposition, private readonly names: readonly string[]) {}

  sample (values: readonly string[], value: number | null | undefined, suffix = ''): void {
    if (value === null || value === undefined) return
    this.out.sample(labelPairs(this.names, values), value, suffix)
  }

  /** A summary's quantile sample: the `quantile` label after the family's own. */
  quantile (values: readonly string[], quantile: string, value: number | null | undefined): void {
    if (value === null || value === undefined) return
    const text = labelPairs(this.names, values)
    this.out.sample(`${text}${text === '' ? '' : ','}quantile="${quantile}"`, value)
  }

  histogram (values: readonly string[], histogram: Histogram, bounds: readonly number[], indexes: readonly number[]): void {
    this.out.histogram(labelPairs(this.names, values), histogram, bounds, indexes)
  }
}

export interface Family<R> extends FamilyHead {
  /** The label names of its samples, besides `le` (histograms) and `quantile` (summaries). */
  readonly labels: readonly string[]
  readonly scope: Scope
  write (out: FamilyWriter, read: R): void
}

/** A family of one unlabelled sample, left out when the value is missing (the platform cannot give it). */
export function single<R> (name: string, type: MetricType, scope: Scope, help: string, value: (read: R) => number | null | undefined): Family<R> {
  return { name, type, help, labels: [], scope, write: (out, read) => out.sample([], value(read)) }
}

/** A family of labelled samples: `[label values, value]`, a missing value left out. */
export function labelled<R> (
  name: string, type: MetricType, scope: Scope, help: string, labels: readonly string[],
  samples: (read: R) => Iterable<readonly [readonly string[], number | null | undefined]>
): Family<R> {
  return {
    name,
    type,
    help,
    labels,
    scope,
    write (out, read) {
      for (const [values, value] of samples(read)) out.sample(values, value)
    }
  }
}

/** Writes every family of `families` that `scope` includes. */
export function writeFamilies<R> (out: Exposition, families: ReadonlyArray<Family<R>>, read: R, scope: 'process' | 'fleet'): void {
  for (const family of families) {
    if (family.scope !== 'any' && family.scope !== scope) continue
    out.begin(family)
    family.write(new FamilyWriter(out, family.labels), read)
  }
}
