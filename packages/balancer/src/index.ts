// End-user API: the balancers
export type { ConsistentHashOptions } from './consistent-hash.js';
export { consistentHash } from './consistent-hash.js';
export type { BalancerName, CreateBalancerOptions } from './create-balancer.js';
export { balancerNames, createBalancer } from './create-balancer.js';
export type { HashKey } from './hash-key.js';
export { argKey, metadataKey } from './hash-key.js';
export { leastConnections } from './least-connections.js';
// For library authors: the default hash of consistentHash
export { murmur3 } from './murmur3.js';
export type { P2cOptions } from './p2c.js';
export { p2c } from './p2c.js';
export { roundRobin } from './round-robin.js';
export { smoothWeightedRoundRobin } from './smooth-weighted-round-robin.js';
export type { WeightedRandomOptions } from './weighted-random.js';
export { weightedRandom } from './weighted-random.js';
