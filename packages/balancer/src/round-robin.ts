import type { Balancer, PickInfo, ServiceInstance } from '@mini-rpc/protocol';
import { MembershipCache } from './membership-cache.js';
import { noInstances } from './no-instances.js';

/** Where a rotation goes next (an index, taken modulo the list's length). */
interface Rotation {
  next: number;
}

/**
 * Creates a balancer that takes the instances of each service in turn, ignoring weights.
 *
 * Each service has its own rotation (one balancer serves every service of a client), which starts at a
 * random position so that many clients started together do not all hit the first instance. Rotations are
 * kept per membership (the ids of the list, see `MembershipCache`), so picks on a filtered copy of the
 * list (a retry, an open breaker) do not shift the full list's: with a shared position, retrying every
 * other call sent every first attempt to half of 4 instances. A membership seen for the first time
 * carries on from the position of the last one used. Throws `RpcError(Unavailable)` when the list is empty.
 *
 * @example
 * ```ts
 * const balancer = roundRobin();
 * balancer.pick(instances, info); // a, then b, then c, then a …
 * ```
 */
export function roundRobin(): Balancer {
  const rotations = new MembershipCache<Rotation>((instances, previous) => ({
    next: previous?.state.next ?? Math.floor(Math.random() * instances.length),
  }));
  return {
    name: 'round-robin',
    pick(instances: readonly ServiceInstance[], info: PickInfo): ServiceInstance {
      const n = instances.length;
      if (n === 0) throw noInstances('round-robin', info);
      const rotation = rotations.get(info.service, instances);
      const i = rotation.next % n;
      rotation.next = i + 1;
      return instances[i]!;
    },
  };
}
