import assert from 'node:assert/strict';
import { consistentHash, createBalancer, metadataKey, smoothWeightedRoundRobin } from '@mini-rpc/balancer';
import type { PickInfo, ServiceInstance } from '@mini-rpc/protocol';

const at = (id: string, port: number, weight: number): ServiceInstance => ({
  id,
  name: 'Arith',
  host: '127.0.0.1',
  port,
  weight,
  metadata: {},
});
const instances = [at('a', 4001, 5), at('b', 4002, 1), at('c', 4003, 1)];
const call: PickInfo = { service: 'Arith', method: 'add', args: [1, 2], metadata: { 'x-user': 'ann' } };

// Weights 5:1:1, spread out rather than five in a row.
const swrr = smoothWeightedRoundRobin();
const order = Array.from({ length: 7 }, () => swrr.pick(instances, call).id);
assert.equal(order.join(' '), 'a a b a c a a');

// Every call of one user reaches the same instance.
const sticky = consistentHash({ key: metadataKey('x-user') });
assert.equal(sticky.pick(instances, call), sticky.pick([...instances], call));

// By name, e.g. from a config file; an empty list is Unavailable.
const balancer = createBalancer('p2c');
assert.ok(instances.includes(balancer.pick(instances, call)));
assert.throws(() => balancer.pick([], call), { name: 'RpcError', code: 14 });
