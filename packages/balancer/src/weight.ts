import type { ServiceInstance } from '@mini-rpc/protocol';

/**
 * The largest weight a balancer uses, 2^32: larger (finite) weights count as this. Sums of up to 2^21
 * instances' weights then stay exact integers; weights near `Number.MAX_VALUE` added up to Infinity,
 * which sent every pick of `weightedRandom` to the last instance and of smooth weighted round robin to
 * the first.
 */
export const MAX_WEIGHT = 2 ** 32;

/**
 * The weight a balancer uses for `instance`: its `weight` when that is a positive finite number (capped
 * at {@link MAX_WEIGHT}), else 1 (the registry contract's default), so a malformed registration never
 * makes a pick fail.
 */
export function weightOf(instance: ServiceInstance): number {
  const w = instance.weight;
  if (w > 0 && w <= MAX_WEIGHT) return w;
  return w > MAX_WEIGHT && w < Number.POSITIVE_INFINITY ? MAX_WEIGHT : 1;
}

/** Maps a random number in [0, 1) to an index in [0, n); out-of-range or NaN inputs are clamped. */
export function indexFor(random: number, n: number): number {
  const i = Math.floor(random * n);
  return i > 0 ? (i < n ? i : n - 1) : 0;
}
