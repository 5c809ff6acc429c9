import type { ServiceInstance } from '@mini-rpc/protocol';
import { Code } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { countPicks, firstPicksWithRetries, info, instances, tally } from '../test/support.js';
import { leastConnections } from './index.js';

describe('leastConnections', () => {
  it('picks the instance with the fewest calls in flight', () => {
    const balancer = leastConnections();
    const [a, b, c] = instances(1, 1, 1) as [ServiceInstance, ServiceInstance, ServiceInstance];
    balancer.onStart?.(a);
    balancer.onStart?.(a);
    balancer.onStart?.(c);
    for (let i = 0; i < 10; i++) expect(balancer.pick([a, b, c], info())).toBe(b);
    balancer.onStart?.(b);
    balancer.onStart?.(b);
    balancer.onEnd?.(a, { code: Code.OK, latencyMs: 5 });
    balancer.onEnd?.(a, { code: Code.Internal, latencyMs: 5 });
    for (let i = 0; i < 10; i++) expect(balancer.pick([a, b, c], info())).toBe(a);
  });

  it('breaks ties round robin instead of always taking the first', () => {
    const counts = countPicks(leastConnections(), instances(1, 1, 1), 30_000);
    expect([...counts.values()]).toEqual([10_000, 10_000, 10_000]);
  });

  it('a retry on the list without the instance tried does not shift the tie-breaking rotation', () => {
    const balancer = leastConnections();
    const all = instances(1, 1, 1, 1);
    expect(Object.values(tally(firstPicksWithRetries(balancer, all, 400, 2)))).toEqual([100, 100, 100, 100]);
  });

  it('weighs calls in flight by weight', () => {
    const balancer = leastConnections();
    const [a, b] = instances(3, 1) as [ServiceInstance, ServiceInstance];
    balancer.onStart?.(a);
    balancer.onStart?.(a);
    balancer.onStart?.(b);
    // a: 2 / 3, b: 1 / 1
    expect(balancer.pick([a, b], info())).toBe(a);
  });

  it('ignores an end without a start', () => {
    const balancer = leastConnections();
    const [a, b] = instances(1, 1) as [ServiceInstance, ServiceInstance];
    balancer.onEnd?.(a, { code: Code.OK, latencyMs: 1 });
    balancer.onStart?.(b);
    expect(balancer.pick([a, b], info())).toBe(a);
  });
});
