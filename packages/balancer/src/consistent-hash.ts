import type { Balancer, PickInfo, ServiceInstance } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import type { HashKey } from './hash-key.js';
import type { HashRing } from './hash-ring.js';
import { buildRing, ownerOf, sameMembers } from './hash-ring.js';
import { type MEMBERSHIPS_KEPT, MembershipCache } from './membership-cache.js';
import { murmur3 } from './murmur3.js';
import { noInstances } from './no-instances.js';

/** Options for {@link consistentHash}. */
export interface ConsistentHashOptions {
  /** Reads the key of a call, e.g. `metadataKey('x-user')` or `argKey(0)`. */
  key: HashKey;
  /** Points on the ring per unit of weight. More points spread keys more evenly. Default 160. */
  virtualNodes?: number;
  /** A 32-bit hash of a string (unsigned). Default {@link murmur3}. */
  hash?: (text: string) => number;
}

/** The state of one membership of a service: its ring, built at its first keyed call, and its rotation. */
interface RingState {
  ring: HashRing | undefined;
  rotation: number;
}

/**
 * Creates a consistent-hash balancer: calls with the same key go to the same instance, and when an
 * instance joins or leaves only about `1 / instances` of the keys move.
 *
 * Every instance owns `virtualNodes × weight` points on a 32-bit ring; a key goes to the owner of the
 * first point at or after its hash (binary search, no allocation). The ring of a service is rebuilt only
 * when its ids or weights change; rings are kept per membership (see `MembershipCache`), so a filtered copy
 * of the list (a retry, an open breaker) gets a ring of its own and the full list's is not rebuilt after
 * it. Only {@link MEMBERSHIPS_KEPT} rings are kept per service: from 8 instances up the lists of retries
 * without one instance outnumber them, and a retry may build a ring for its list. Calls whose key is
 * `undefined` are spread round robin. Throws
 * `RpcError(Unavailable)` when the list is empty, and `RpcError(InvalidArgument)` at creation when
 * `virtualNodes` is not a positive integer.
 *
 * @example
 * ```ts
 * // every call of one user reaches the same instance, so its cache stays warm
 * const balancer = consistentHash({ key: metadataKey('x-user') });
 * ```
 */
export function consistentHash(options: ConsistentHashOptions): Balancer {
  const { key, virtualNodes = 160, hash = murmur3 } = options;
  if (!Number.isInteger(virtualNodes) || virtualNodes < 1) {
    throw new RpcError(Code.InvalidArgument, `virtualNodes must be a positive integer, got ${virtualNodes}`);
  }
  const states = new MembershipCache<RingState>((_, previous) => ({
    ring: undefined,
    rotation: previous?.state.rotation ?? 0,
  }));
  return {
    name: 'consistent-hash',
    pick(instances: readonly ServiceInstance[], info: PickInfo): ServiceInstance {
      const n = instances.length;
      if (n === 0) throw noInstances('consistent-hash', info);
      if (n === 1) return instances[0]!;
      const state = states.get(info.service, instances);
      const k = key(info);
      if (k === undefined) {
        state.rotation = state.rotation + 1 < n ? state.rotation + 1 : 0;
        return instances[state.rotation]!;
      }
      let ring = state.ring;
      if (ring === undefined || (ring.list !== instances && !sameMembers(ring, instances))) {
        ring = buildRing(instances, virtualNodes, hash);
        state.ring = ring;
      } else {
        ring.list = instances;
      }
      return instances[ownerOf(ring, hash(k) >>> 0)]!;
    },
  };
}
