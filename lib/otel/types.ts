/**
 * The part of the `@opentelemetry/api` metrics interfaces that the export uses, written out so that neither the
 * plugin's code nor its type declarations import the package: a user who does not configure OpenTelemetry never
 * loads it, and does not need it installed. A real `MeterProvider` (the SDK's, or any other) matches these.
 */
export type OtelAttributes = Record<string, string | number | boolean>

export interface OtelInstrumentOptions {
  description?: string
  unit?: string
  advice?: { explicitBucketBoundaries?: number[] }
}

/** An observable instrument: opaque here, handed back to the batch observer. */
export type OtelObservable = object

export interface OtelBatchObservableResult {
  observe (observable: OtelObservable, value: number, attributes?: OtelAttributes): void
}

export type OtelBatchCallback = (result: OtelBatchObservableResult) => void

export interface OtelHistogram {
  record (value: number, attributes?: OtelAttributes): void
}

export interface OtelMeter {
  createHistogram (name: string, options?: OtelInstrumentOptions): OtelHistogram
  createObservableGauge (name: string, options?: OtelInstrumentOptions): OtelObservable
  createObservableCounter (name: string, options?: OtelInstrumentOptions): OtelObservable
  createObservableUpDownCounter (name: string, options?: OtelInstrumentOptions): OtelObservable
  addBatchObservableCallback (callback: OtelBatchCallback, observables: OtelObservable[]): void
  removeBatchObservableCallback (callback: OtelBatchCallback, observables: OtelObservable[]): void
}

export interface OtelMeterProvider {
  getMeter (name: string, version?: string): OtelMeter
}

export interface OpenTelemetryOptions {
  /** An `@opentelemetry/api` MeterProvider, e.g. the SDK's `new MeterProvider({ readers: [...] })`. */
  meterProvider: OtelMeterProvider
}
