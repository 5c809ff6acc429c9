import type { ServiceInstance } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { weightOf } from './weight.js';

/** 2^21 owners: `hash * OWNER_SPACE + owner` stays below 2^53, so one Float64Array sort orders both. */
const OWNER_SPACE = 2 ** 21;

/** A sorted ring of virtual-node points and, for each point, the index of the instance that owns it. */
export interface HashRing {
  /** The list the owner indexes refer to (the last one seen with these members). */
  list: readonly ServiceInstance[];
  readonly ids: readonly string[];
  readonly weights: readonly number[];
  readonly points: Uint32Array;
  readonly owners: Uint32Array;
}

/**
 * Builds the ring for `instances`: `round(virtualNodes × weight)` points (at least 1) per instance, each at
 * `hash("<id>#<n>")`. Points depend only on ids and weights, so adding an instance moves only the keys
 * that now fall on its points.
 */
export function buildRing(
  instances: readonly ServiceInstance[],
  virtualNodes: number,
  hash: (text: string) => number,
): HashRing {
  if (instances.length > OWNER_SPACE) {
    throw new RpcError(Code.InvalidArgument, `a hash ring holds at most ${OWNER_SPACE} instances`);
  }
  const ids = instances.map((instance) => instance.id);
  const weights = instances.map(weightOf);
  const counts = weights.map((w) => Math.max(1, Math.round(virtualNodes * w)));
  const packed = new Float64Array(counts.reduce((a, b) => a + b, 0));
  let k = 0;
  for (let owner = 0; owner < ids.length; owner++) {
    for (let v = 0; v < counts[owner]!; v++)
      packed[k++] = (hash(`${ids[owner]}#${v}`) >>> 0) * OWNER_SPACE + owner;
  }
  packed.sort();
  const points = new Uint32Array(packed.length);
  const owners = new Uint32Array(packed.length);
  for (let i = 0; i < packed.length; i++) {
    const point = Math.floor(packed[i]! / OWNER_SPACE);
    points[i] = point;
    owners[i] = packed[i]! - point * OWNER_SPACE;
  }
  return { list: instances, ids, weights, points, owners };
}

/** True when `instances` has the ids and weights, in order, that `ring` was built from. */
export function sameMembers(ring: HashRing, instances: readonly ServiceInstance[]): boolean {
  if (ring.ids.length !== instances.length) return false;
  for (let i = 0; i < instances.length; i++) {
    const instance = instances[i]!;
    if (ring.ids[i] !== instance.id || ring.weights[i] !== weightOf(instance)) return false;
  }
  return true;
}

/** The owner index of the first point at or after `h` on the ring (wrapping), by binary search. */
export function ownerOf(ring: HashRing, h: number): number {
  const points = ring.points;
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]! < h) lo = mid + 1;
    else hi = mid;
  }
  return ring.owners[lo === points.length ? 0 : lo]!;
}
