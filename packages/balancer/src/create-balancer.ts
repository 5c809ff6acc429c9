import type { Balancer } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import type { ConsistentHashOptions } from './consistent-hash.js';
import { consistentHash } from './consistent-hash.js';
import { leastConnections } from './least-connections.js';
import type { P2cOptions } from './p2c.js';
import { p2c } from './p2c.js';
import { roundRobin } from './round-robin.js';
import { smoothWeightedRoundRobin } from './smooth-weighted-round-robin.js';
import type { WeightedRandomOptions } from './weighted-random.js';
import { weightedRandom } from './weighted-random.js';

/** The names {@link createBalancer} knows, in the order the docs list them. */
export const balancerNames = [
  'round-robin',
  'smooth-weighted',
  'random',
  'consistent-hash',
  'least-connections',
  'p2c',
] as const;

/** One of {@link balancerNames}; also the `name` of the balancer it creates. */
export type BalancerName = (typeof balancerNames)[number];

/** Options for {@link createBalancer}: those of the named balancer; the others are ignored. */
export type CreateBalancerOptions = WeightedRandomOptions & P2cOptions & Partial<ConsistentHashOptions>;

/**
 * Creates a balancer from its name, for configuration files and command lines.
 *
 * `'random'` is {@link weightedRandom}, `'smooth-weighted'` is {@link smoothWeightedRoundRobin}; the
 * others are the factory of the same name. Throws `RpcError(InvalidArgument)` for an unknown name (the
 * message lists the known ones) and for `'consistent-hash'` without `options.key`.
 *
 * @example
 * ```ts
 * const balancer = createBalancer(process.env.BALANCER ?? 'p2c');
 * ```
 */
export function createBalancer(name: string, options: CreateBalancerOptions = {}): Balancer {
  switch (name as BalancerName) {
    case 'round-robin':
      return roundRobin();
    case 'smooth-weighted':
      return smoothWeightedRoundRobin();
    case 'random':
      return weightedRandom(options);
    case 'consistent-hash': {
      const { key, ...rest } = options;
      if (key === undefined) {
        throw new RpcError(Code.InvalidArgument, 'balancer "consistent-hash" needs options.key');
      }
      return consistentHash({ ...rest, key });
    }
    case 'least-connections':
      return leastConnections();
    case 'p2c':
      return p2c(options);
    default:
      throw new RpcError(
        Code.InvalidArgument,
        `unknown balancer "${name}"; expected one of ${balancerNames.map((n) => `"${n}"`).join(', ')}`,
      );
  }
}
