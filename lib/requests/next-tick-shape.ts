import { executionAsyncResource } from 'node:async_hooks'

/** What is kept: one object, once the tick has run. */
const kept: object[] = []
let asked = false

/**
 * Keeps one of `process.nextTick`'s own objects alive for the life of the process, so that the hidden classes
 * (maps) V8 builds them with live as long as the process does. Node builds each as `{ [async_id_symbol]: …,
 * [trigger_async_id_symbol]: …, callback, args }`, and V8 records the map of each of those keyed definitions in
 * feedback that goes from monomorphic to megamorphic, for good, the first time it sees another map. The maps are held
 * only weakly, so a full collection at a moment when no such object is alive (on an idle server, V8's memory
 * reducer, seconds after start) lets them die, the next `nextTick` builds new ones, and from then on every
 * `nextTick`, several a request, defines its properties in the runtime: about a tenth of a hello world's CPU on
 * Node 20 (benchmark/README.md, "nextTick's maps"). One object of 56 bytes, whatever the number of plugin instances.
 */
export function keepNextTickShape (): void {
  if (asked) return
  asked = true
  // Inside its callback, a tick's async resource is its own object.
  process.nextTick(() => { kept.push(executionAsyncResource()) })
}
