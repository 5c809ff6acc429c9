import type { Balancer, CallOutcome, PickInfo, ServiceInstance } from '@mini-rpc/protocol';
import { MembershipCache } from './membership-cache.js';
import { noInstances } from './no-instances.js';
import { weightOf } from './weight.js';

const SWEEP_EVERY = 1024;

/**
 * Creates a balancer that sends each call to the instance with the fewest calls in flight from this
 * client, relative to its weight (`outstanding / weight`).
 *
 * It counts calls through `onStart`/`onEnd`, which the client calls around every call. Ties (e.g. an idle
 * client, where every count is 0) are broken round robin, not always in favour of the first instance;
 * that rotation is kept per service and membership (see `MembershipCache`), so picks on a filtered copy of
 * the list (a retry, an open breaker) do not shift the full list's.
 * Ids with no call in flight are forgotten every 1,024 calls, so vanished instances take no memory.
 * It reacts to a slow instance only once calls pile up on it; with few concurrent calls prefer
 * {@link p2c}, which also sees latency. Throws `RpcError(Unavailable)` when the list is empty.
 *
 * @example
 * ```ts
 * const balancer = leastConnections();
 * const target = balancer.pick(instances, info); // the least busy
 * balancer.onStart?.(target); // … and onEnd when the call settles
 * ```
 */
export function leastConnections(): Balancer {
  const outstanding = new Map<string, number>();
  const rotations = new MembershipCache<{ next: number }>((_, previous) => ({
    next: previous?.state.next ?? 0,
  }));
  let ended = 0;
  return {
    name: 'least-connections',
    pick(instances: readonly ServiceInstance[], info: PickInfo): ServiceInstance {
      const n = instances.length;
      if (n === 0) throw noInstances('least-connections', info);
      const rotation = rotations.get(info.service, instances);
      const start = rotation.next < n ? rotation.next : 0;
      rotation.next = start + 1;
      let best = start;
      let bestLoad = Number.POSITIVE_INFINITY;
      for (let k = 0, i = start; k < n; k++, i = i + 1 < n ? i + 1 : 0) {
        const instance = instances[i]!;
        const load = (outstanding.get(instance.id) ?? 0) / weightOf(instance);
        if (load < bestLoad) {
          bestLoad = load;
          best = i;
        }
      }
      return instances[best]!;
    },
    onStart(instance: ServiceInstance): void {
      outstanding.set(instance.id, (outstanding.get(instance.id) ?? 0) + 1);
    },
    onEnd(instance: ServiceInstance, _outcome: CallOutcome): void {
      const count = outstanding.get(instance.id);
      if (count !== undefined && count > 0) outstanding.set(instance.id, count - 1);
      // Deleting at 0 on every call would churn the map; forget idle ids (e.g. vanished ones) in batches.
      if (++ended >= SWEEP_EVERY) {
        ended = 0;
        for (const [id, n] of outstanding) if (n === 0) outstanding.delete(id);
      }
    },
  };
}
