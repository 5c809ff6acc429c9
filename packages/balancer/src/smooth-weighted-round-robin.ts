import type { Balancer, PickInfo, ServiceInstance } from '@mini-rpc/protocol';
import { type Membership, MembershipCache } from './membership-cache.js';
import { noInstances } from './no-instances.js';
import { weightOf } from './weight.js';

/**
 * Creates nginx's smooth weighted round robin: over every run of `sum(weights)` picks each instance is
 * picked exactly `weight` times, and the heavy instances are spread out rather than picked in a row.
 *
 * Weights 5:1:1 give `a a b a c a a`, not `a a a a a b c`. Each pick adds every instance's weight to its
 * `current`, picks the largest `current` (the first on ties) and subtracts the total weight from it.
 * The `current`s are kept per membership (the ids of the list, see `MembershipCache`): picks on a filtered
 * copy of the list (a retry without the instance it tried, an open breaker's instance left out) run their
 * own rotation and leave the full list's as it was, so its shares stay exact. A membership seen for the
 * first time starts from the `current`s of the last one used (new ids at 0); a changed weight takes effect
 * on the next pick. Throws `RpcError(Unavailable)` when the list is empty.
 *
 * @example
 * ```ts
 * const balancer = smoothWeightedRoundRobin();
 * // weights 5, 1, 1: a a b a c a a, then again
 * balancer.pick(instances, info);
 * ```
 */
export function smoothWeightedRoundRobin(): Balancer {
  const rotations = new MembershipCache<number[]>(startFrom);
  return {
    name: 'smooth-weighted',
    pick(instances: readonly ServiceInstance[], info: PickInfo): ServiceInstance {
      const n = instances.length;
      if (n === 0) throw noInstances('smooth-weighted', info);
      const currents = rotations.get(info.service, instances);
      let total = 0;
      let best = 0;
      let bestCurrent = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const w = weightOf(instances[i]!);
        const current = currents[i]! + w;
        currents[i] = current;
        total += w;
        if (current > bestCurrent) {
          bestCurrent = current;
          best = i;
        }
      }
      currents[best]! -= total;
      return instances[best]!;
    },
  };
}

/**
 * The `current`s of a new membership: those of the ids it shares with `previous`, 0 for the others.
 * O(n): `previous.indexOf` is a map lookup (a retry on 1,000 instances makes a new membership per call).
 */
function startFrom(
  instances: readonly ServiceInstance[],
  previous: Membership<number[]> | undefined,
): number[] {
  const currents = new Array<number>(instances.length).fill(0);
  if (previous === undefined) return currents;
  for (let i = 0; i < instances.length; i++) {
    const j = previous.indexOf(instances[i]!.id);
    if (j >= 0) currents[i] = previous.state[j]!;
  }
  return currents;
}
