import type { Balancer } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { fakeClock, instances, mulberry32, share, simulate, simulateSequential } from '../test/support.js';
import { leastConnections, p2c, roundRobin, weightedRandom } from './index.js';

// Three instances; `c` answers 10x slower (100 ms against 10 ms). Calls arrive every 1 ms (open loop), so
// with round robin about 33 calls pile up on `c`.
const list = instances(1, 1, 1);
const latency = (target: { id: string }) => (target.id === 'c' ? 100 : 10);

function slowShare(make: (clock: ReturnType<typeof fakeClock>) => Balancer): number {
  const clock = fakeClock();
  const picks = simulate({
    balancer: make(clock),
    clock,
    list: () => list,
    latency,
    calls: 30_000,
    intervalMs: 1,
  });
  return share(picks, 'c');
}

function slowShareSequential(make: (clock: ReturnType<typeof fakeClock>) => Balancer): number {
  const clock = fakeClock();
  const picks = simulateSequential({
    balancer: make(clock),
    clock,
    list: () => list,
    latency,
    calls: 30_000,
  });
  return share(picks, 'c');
}

describe('a slow instance (10x latency)', () => {
  it('gets clearly less traffic from least connections and p2c than from round robin, under load', () => {
    const shares = {
      'round-robin': slowShare(() => roundRobin()),
      random: slowShare(() => weightedRandom({ random: mulberry32(1) })),
      'least-connections': slowShare(() => leastConnections()),
      p2c: slowShare((clock) => p2c({ random: mulberry32(2), now: clock.now })),
    };
    console.log('slow instance share, open loop 1 call/ms:', shares);
    expect(shares['round-robin']).toBeCloseTo(1 / 3, 3);
    expect(shares['least-connections']).toBeLessThan(0.1);
    expect(shares.p2c).toBeLessThan(0.1);
  });

  it('gets little traffic from p2c even with one call at a time, where least connections cannot tell', () => {
    const shares = {
      'round-robin': slowShareSequential(() => roundRobin()),
      'least-connections': slowShareSequential(() => leastConnections()),
      p2c: slowShareSequential((clock) => p2c({ random: mulberry32(3), now: clock.now })),
    };
    console.log('slow instance share, sequential calls:', shares);
    expect(shares['least-connections']).toBeCloseTo(1 / 3, 3);
    expect(shares.p2c).toBeLessThan(0.01);
  });
});
