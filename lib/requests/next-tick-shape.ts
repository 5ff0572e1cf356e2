import { createHook } from 'node:async_hooks'

/** The one tick object kept (a list, so that the module reads what it writes). */
const kept: object[] = []

/**
 * Keeps one of `process.nextTick`'s own objects alive for the life of the process, so that the hidden classes
 * (maps) V8 builds them with live as long as the process does. Node 20 builds each as `{ [async_id_symbol]: …,
 * [trigger_async_id_symbol]: …, callback, args }`, and V8 records the map of each of those keyed definitions in
 * feedback that goes from monomorphic to megamorphic, for good, the first time it sees another map. The maps are held
 * only weakly, so a full collection at a moment when no tick object is alive (on an idle server, V8's memory reducer,
 * seconds after start) lets them die, the next `nextTick` builds new ones, and from then on every `nextTick`, several
 * a request, defines its properties in the runtime: about a tenth of a hello world's CPU (benchmark/README.md,
 * "nextTick's maps"). A live object keeps its map and, through the maps' back pointers, every map before it.
 *
 * It cannot repair a process whose feedback went megamorphic before the plugin was imported. Once per process,
 * whatever the number of plugin instances: one object of 56 bytes, and whatever an AsyncLocalStorage active at that
 * moment attached to it (its store of the moment).
 *
 * The object is taken from an init hook that is on for one `nextTick` call, not from `executionAsyncResource()` in a
 * tick's callback, which would set Node's "execution async resource used" flag for the rest of the process (every
 * native callback then goes through a JavaScript trampoline as soon as any async hook is on).
 */
export function keepNextTickShape (): void {
  if (kept.length > 0) return
  const hook = createHook({
    init (_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject' && kept.length === 0) kept.push(resource)
    }
  })
  hook.enable()
  try {
    // Node calls init hooks from inside nextTick itself, with the tick's object.
    process.nextTick(noop)
  } finally {
    hook.disable()
  }
}

function noop (): void {}

// On import, and this module first among the plugin's imports (lib/plugin.ts): the earlier, the fewer the full
// collections that can come before it.
keepNextTickShape()
