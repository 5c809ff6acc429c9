import type { Balancer, PickInfo, ServiceInstance } from '@mini-rpc/protocol';
import { noInstances } from './no-instances.js';

/**
 * Creates a balancer that takes the instances of each service in turn, ignoring weights.
 *
 * Each service has its own rotation (one balancer serves every service of a client), which starts at a
 * random position so that many clients started together do not all hit the first instance. When the list
 * changes, the rotation carries on from the same position in the new list. Throws `RpcError(Unavailable)`
 * when the list is empty.
 *
 * @example
 * ```ts
 * const balancer = roundRobin();
 * balancer.pick(instances, info); // a, then b, then c, then a …
 * ```
 */
export function roundRobin(): Balancer {
  const next = new Map<string, number>();
  return {
    name: 'round-robin',
    pick(instances: readonly ServiceInstance[], info: PickInfo): ServiceInstance {
      const n = instances.length;
      if (n === 0) throw noInstances('round-robin', info);
      const position = next.get(info.service) ?? Math.floor(Math.random() * n);
      const i = position % n;
      next.set(info.service, i + 1);
      return instances[i]!;
    },
  };
}
