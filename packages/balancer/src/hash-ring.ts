import type { ServiceInstance } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { weightOf } from './weight.js';

/** 2^21 owners: `hash * OWNER_SPACE + owner` stays below 2^53, so one Float64Array sort orders both. */
const OWNER_SPACE = 2 ** 21;

/**
 * Points a ring holds at most (plus one per instance): 2^20, 8 MiB to sort and about 250 ms to build on the
 * test machine. One registration of weight 10^9 asked for 1.6 × 10^11 points, a RangeError on every pick of
 * the service; weight 10^5 for 1.6 × 10^7, seconds of hashing at the first pick.
 */
export const MAX_RING_POINTS = 2 ** 20;

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
 * that now fall on its points. A ring that would hold more than {@link MAX_RING_POINTS} points is scaled
 * down to about that many, each instance keeping its share of them (see `pointCounts`).
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
  const counts = pointCounts(weights, virtualNodes);
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

/**
 * `round(virtualNodes × weight)` points per instance, at least 1, unless that adds up to more than
 * {@link MAX_RING_POINTS}: then `round(MAX_RING_POINTS × weight / sum of weights)`, at least 1. Only a
 * scaled ring's points depend on the other instances' weights, so only then do keys move a little beyond
 * those of an instance that joins or leaves (and a filtered copy's walk may differ from a ring of its own).
 */
export function pointCounts(weights: readonly number[], virtualNodes: number): number[] {
  // Relative to the largest weight, so that the sum cannot overflow to Infinity.
  let largest = 0;
  for (const w of weights) if (w > largest) largest = w;
  let relative = 0;
  for (const w of weights) relative += w / largest;
  if (virtualNodes * largest * relative <= MAX_RING_POINTS) {
    return weights.map((w) => Math.max(1, Math.round(virtualNodes * w)));
  }
  return weights.map((w) => Math.max(1, Math.round((MAX_RING_POINTS * (w / largest)) / relative)));
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
  const lo = firstAtOrAfter(ring.points, h);
  return ring.owners[lo === ring.points.length ? 0 : lo]!;
}

/**
 * Maps `ring`'s owners onto `instances` when `instances` is the ring's list with some instances left out
 * (same ids and weights, same order): `slots[owner]` becomes the owner's index in `instances`, or -1.
 * Returns false, with `slots` partly written, when it is not such a subset (an id the ring lacks, another
 * weight, another order, a duplicate). One pass over both lists: each instance is matched to the next id
 * of the ring that is its own, which finds the subset whenever there is one.
 */
export function mapSubset(ring: HashRing, instances: readonly ServiceInstance[], slots: Int32Array): boolean {
  const { ids, weights } = ring;
  let j = 0;
  for (let owner = 0; owner < ids.length; owner++) {
    const instance = instances[j];
    const kept =
      instance !== undefined && ids[owner] === instance.id && weights[owner] === weightOf(instance);
    slots[owner] = kept ? j++ : -1;
  }
  return j === instances.length;
}

/**
 * The slot (see {@link mapSubset}) of the owner of the first point at or after `h` whose slot is not -1,
 * walking forward from the binary search and wrapping; -1 if a full turn finds none (no slot is kept).
 *
 * This is exactly the owner that `buildRing` of the subset, with the same `virtualNodes` and hash, would
 * give: a point depends only on its instance's id, weight and number, so that ring holds the very points
 * the subset's instances own here, and ties between equal hashes go to the instance earlier in the list in
 * both rings, as the subset keeps the list's order. A walk visits about `ring points / subset points`.
 */
export function ownerAmong(ring: HashRing, slots: Int32Array, h: number): number {
  const { points, owners } = ring;
  let i = firstAtOrAfter(points, h);
  for (let visited = 0; visited < points.length; visited++, i++) {
    if (i === points.length) i = 0;
    const slot = slots[owners[i]!]!;
    if (slot >= 0) return slot;
  }
  return -1;
}

/** The index of the first of the sorted `points` at or after `h`, or `points.length` if none is. */
function firstAtOrAfter(points: Uint32Array, h: number): number {
  let lo = 0;
  let hi = points.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (points[mid]! < h) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
