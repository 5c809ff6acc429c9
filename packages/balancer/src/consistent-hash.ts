import type { Balancer, PickInfo, ServiceInstance } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import type { HashKey } from './hash-key.js';
import type { HashRing } from './hash-ring.js';
import { buildRing, mapSubset, ownerAmong, ownerOf, sameMembers } from './hash-ring.js';
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

/** The state of one membership of a service: the ring its keyed calls use, and its rotation. */
interface RingState {
  /** The ring built for this membership's list, at a keyed call that `base` could not serve. */
  ring: HashRing | undefined;
  /**
   * The ring of the membership used just before this one was first seen (or the ring that one walked):
   * while this list is that ring's list with instances left out, picks walk it rather than build a ring.
   */
  base: HashRing | undefined;
  /** `mapSubset(base, slotsFor)`, made at the first keyed call and again for each other array. */
  slots: Int32Array | undefined;
  slotsFor: readonly ServiceInstance[] | undefined;
  rotation: number;
}

/**
 * Creates a consistent-hash balancer: calls with the same key go to the same instance, and when an
 * instance joins or leaves only about `1 / instances` of the keys move.
 *
 * Every instance owns `virtualNodes × weight` points on a 32-bit ring; a key goes to the owner of the
 * first point at or after its hash (binary search, no allocation). The ring of a service is rebuilt only
 * when its ids or weights change. A filtered copy of the list (a retry, an open breaker) builds no ring: it
 * is first seen right after the list it was filtered from, and its picks walk that list's ring from the
 * key's point, skipping the points of the instances left out. That gives exactly the owner a ring built
 * for the copy would give (see `ownerAmong`) for O(instances) at the copy's first keyed pick, instead of
 * `virtualNodes × weight` hashes per instance and a sort (a retry pick on 1,000 instances: about 16 µs
 * instead of 22 ms). It matters because the retry lists of a service (one per instance left out) outnumber
 * the {@link MEMBERSHIPS_KEPT} memberships kept from 8 instances up (see `MembershipCache`), so most are
 * new. A list that is not such a copy, or keeps fewer than half of the instances, gets a ring of its own.
 * Calls whose key is `undefined` (or anything but a string) are spread round robin. Throws
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
    base: previous?.state.ring ?? previous?.state.base,
    slots: undefined,
    slotsFor: undefined,
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
      // Not only undefined: a key function of plain JS may give null or a number, which the hash cannot take.
      if (typeof k !== 'string') {
        state.rotation = state.rotation + 1 < n ? state.rotation + 1 : 0;
        return instances[state.rotation]!;
      }
      const h = hash(k) >>> 0;
      const ring = state.ring;
      if (ring !== undefined && (ring.list === instances || sameMembers(ring, instances))) {
        ring.list = instances;
        return instances[ownerOf(ring, h)]!;
      }
      const slot = slotOnBase(state, instances, h);
      if (slot >= 0) return instances[slot]!;
      const built = buildRing(instances, virtualNodes, hash);
      state.ring = built;
      state.base = state.slots = state.slotsFor = undefined;
      return instances[ownerOf(built, h)]!;
    },
  };
}

/**
 * The index in `instances` of the owner of `h`, walking `state.base` (see `ownerAmong`); -1 when there is
 * no base, or `instances` is not its list with instances left out, or has fewer than half of them. A list
 * kept that much smaller (the service shrank, most breakers open) would visit `base / list` points per
 * pick, and keep the larger ring alive, for as long as it is used: a ring of its own costs less.
 */
function slotOnBase(state: RingState, instances: readonly ServiceInstance[], h: number): number {
  const base = state.base;
  if (base === undefined) return -1;
  let slots = state.slots;
  if (state.slotsFor !== instances) {
    if (instances.length * 2 < base.ids.length) return -1;
    slots ??= new Int32Array(base.ids.length);
    if (!mapSubset(base, instances, slots)) return -1;
    state.slots = slots;
    state.slotsFor = instances;
  }
  return slots === undefined ? -1 : ownerAmong(base, slots, h);
}
