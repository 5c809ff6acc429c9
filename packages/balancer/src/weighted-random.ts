import type { Balancer, PickInfo, ServiceInstance } from '@mini-rpc/protocol';
import { noInstances } from './no-instances.js';
import { indexFor, weightOf } from './weight.js';

/** Options for {@link weightedRandom}. */
export interface WeightedRandomOptions {
  /** Source of uniform numbers in [0, 1); inject a seeded one in tests. Default `Math.random`. */
  random?: () => number;
}

/**
 * Creates a stateless balancer that picks at random, each instance with probability proportional to its
 * weight (plain uniform choice when all weights are equal).
 *
 * One random number per pick, no state and no allocation, so it suits many clients that should not
 * synchronise. Throws `RpcError(Unavailable)` when the list is empty.
 *
 * @example
 * ```ts
 * const balancer = weightedRandom();
 * const seeded = weightedRandom({ random: mulberry32(42) }); // reproducible in tests
 * ```
 */
export function weightedRandom(options: WeightedRandomOptions = {}): Balancer {
  const random = options.random ?? Math.random;
  return {
    name: 'random',
    pick(instances: readonly ServiceInstance[], info: PickInfo): ServiceInstance {
      const n = instances.length;
      if (n === 0) throw noInstances('random', info);
      if (n === 1) return instances[0]!;
      const first = weightOf(instances[0]!);
      let total = 0;
      let equal = true;
      for (let i = 0; i < n; i++) {
        const w = weightOf(instances[i]!);
        total += w;
        if (w !== first) equal = false;
      }
      const r = random();
      if (equal) return instances[indexFor(r, n)]!;
      let x = (r >= 0 && r < 1 ? r : 0) * total;
      for (let i = 0; i < n - 1; i++) {
        x -= weightOf(instances[i]!);
        if (x < 0) return instances[i]!;
      }
      return instances[n - 1]!;
    },
  };
}
