import type { Balancer, PickInfo, ServiceInstance } from '@mini-rpc/protocol';
import { noInstances } from './no-instances.js';
import { weightOf } from './weight.js';

interface Slot {
  readonly id: string;
  current: number;
}

/** The state of one service: the list last seen and one slot per instance, in list order. */
interface ServiceState {
  list: readonly ServiceInstance[] | undefined;
  slots: Slot[];
}

/**
 * Creates nginx's smooth weighted round robin: over every run of `sum(weights)` picks each instance is
 * picked exactly `weight` times, and the heavy instances are spread out rather than picked in a row.
 *
 * Weights 5:1:1 give `a a b a c a a`, not `a a a a a b c`. Each pick adds every instance's weight to its
 * `current`, picks the largest `current` (the first on ties) and subtracts the total weight from it.
 * State is per instance id; when the list changes, vanished ids are forgotten and new ids start at 0,
 * and a changed weight takes effect on the next pick. A list is read as immutable: pass a new array when
 * its members change (registries do). Throws `RpcError(Unavailable)` when the list is empty.
 *
 * @example
 * ```ts
 * const balancer = smoothWeightedRoundRobin();
 * // weights 5, 1, 1: a a b a c a a, then again
 * balancer.pick(instances, info);
 * ```
 */
export function smoothWeightedRoundRobin(): Balancer {
  const services = new Map<string, ServiceState>();
  return {
    name: 'smooth-weighted',
    pick(instances: readonly ServiceInstance[], info: PickInfo): ServiceInstance {
      const n = instances.length;
      if (n === 0) throw noInstances('smooth-weighted', info);
      let state = services.get(info.service);
      if (state === undefined) {
        state = { list: undefined, slots: [] };
        services.set(info.service, state);
      }
      if (state.list !== instances) sync(state, instances);
      const slots = state.slots;
      let total = 0;
      let best = 0;
      let bestCurrent = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const w = weightOf(instances[i]!);
        const slot = slots[i]!;
        const current = slot.current + w;
        slot.current = current;
        total += w;
        if (current > bestCurrent) {
          bestCurrent = current;
          best = i;
        }
      }
      slots[best]!.current -= total;
      return instances[best]!;
    },
  };
}

/** Lines the slots up with a new list, keeping the `current` of ids that are still there. */
function sync(state: ServiceState, instances: readonly ServiceInstance[]): void {
  const old = state.slots;
  let same = old.length === instances.length;
  for (let i = 0; same && i < instances.length; i++) same = old[i]!.id === instances[i]!.id;
  state.list = instances;
  if (same) return;
  const byId = new Map<string, Slot>();
  for (const slot of old) byId.set(slot.id, slot);
  state.slots = instances.map((instance) => byId.get(instance.id) ?? { id: instance.id, current: 0 });
}
