import type { ServiceInstance } from '@mini-rpc/protocol';

/**
 * The weight a balancer uses for `instance`: its `weight` when that is a positive finite number, else 1
 * (the registry contract's default), so a malformed registration never makes a pick fail.
 */
export function weightOf(instance: ServiceInstance): number {
  const w = instance.weight;
  return w > 0 && w < Number.POSITIVE_INFINITY ? w : 1;
}

/** Maps a random number in [0, 1) to an index in [0, n); out-of-range or NaN inputs are clamped. */
export function indexFor(random: number, n: number): number {
  const i = Math.floor(random * n);
  return i > 0 ? (i < n ? i : n - 1) : 0;
}
