import type { ServiceInstance } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { fakeClock, info, instances, mulberry32, share, simulate } from '../test/support.js';
import { p2c } from './index.js';

const ok = (latencyMs: number) => ({ code: Code.OK, latencyMs });

/** Records `latencyMs` as one finished call on `target`. */
function answer(
  balancer: ReturnType<typeof p2c>,
  target: ServiceInstance,
  latencyMs: number,
  code: Code = Code.OK,
) {
  balancer.onStart?.(target);
  balancer.onEnd?.(target, { code, latencyMs });
}

describe('p2c', () => {
  it('prefers the instance with fewer calls in flight when latencies are alike', () => {
    const clock = fakeClock();
    const balancer = p2c({ now: clock.now, random: mulberry32(1) });
    const [a, b] = instances(1, 1) as [ServiceInstance, ServiceInstance];
    answer(balancer, a, 10);
    answer(balancer, b, 10);
    balancer.onStart?.(a);
    balancer.onStart?.(a);
    for (let i = 0; i < 100; i++) expect(balancer.pick([a, b], info())).toBe(b);
  });

  it('prefers the faster instance when nothing is in flight', () => {
    const clock = fakeClock();
    const balancer = p2c({ now: clock.now, random: mulberry32(2) });
    const [a, b] = instances(1, 1) as [ServiceInstance, ServiceInstance];
    answer(balancer, a, 50);
    answer(balancer, b, 10);
    for (let i = 0; i < 100; i++) expect(balancer.pick([a, b], info())).toBe(b);
  });

  it('takes a slower sample at once (peak) and forgets it over the decay time', () => {
    const clock = fakeClock();
    const balancer = p2c({ now: clock.now, random: mulberry32(3), decay: 1000 });
    const [a, b] = instances(1, 1) as [ServiceInstance, ServiceInstance];
    for (let i = 0; i < 10; i++) {
      answer(balancer, a, 10);
      answer(balancer, b, 10);
    }
    balancer.onStart?.(b); // b stays busy with one call: cost 10 × 2
    expect(balancer.pick([a, b], info())).toBe(a);
    answer(balancer, a, 200); // one spike: a costs 200 now
    expect(balancer.pick([a, b], info())).toBe(b);
    // Without new samples a's estimate drifts back to the service's typical latency (~19 ms, the spike
    // included) and a, idle, is cheaper than busy b again.
    clock.t += 5_000;
    expect(balancer.pick([a, b], info())).toBe(a);
  });

  it('gives an instance never seen before the neutral prior: tried, not flooded', () => {
    const clock = fakeClock();
    const three = instances(1, 1, 1);
    const four = [...three, { ...three[0]!, id: 'd' }];
    const picks = simulate({
      balancer: p2c({ now: clock.now, random: mulberry32(4) }),
      clock,
      list: (t) => (t < 10_000 ? three : four),
      latency: () => 10,
      calls: 20_000,
      intervalMs: 1,
    });
    const newShare = share(picks, 'd', 10_000);
    console.log('share of an instance added after 10 s (p2c):', newShare);
    expect(newShare).toBeGreaterThan(0.15);
    expect(newShare).toBeLessThan(0.35);
  });

  it('sends traffic back to a slow instance once it recovers', () => {
    const clock = fakeClock();
    const jitter = mulberry32(5);
    const picks = simulate({
      balancer: p2c({ now: clock.now, random: mulberry32(6) }),
      clock,
      list: () => instances(1, 1, 1),
      // c answers in 100 ms for the first 10 s, then like the others (8-12 ms)
      latency: (target, t) => (target.id === 'c' && t < 10_000 ? 100 : 8 + 4 * jitter()),
      calls: 60_000,
      intervalMs: 1,
    });
    const before = share(picks, 'c', 0, 10_000);
    const after = share(picks, 'c', 50_000, 60_000);
    console.log('share of c while slow / 40 s after it recovered (p2c):', before, after);
    expect(before).toBeLessThan(0.05);
    expect(after).toBeGreaterThan(0.2);
  });

  it('does not take an instance that fails fast for a fast one', () => {
    const clock = fakeClock();
    const picks = simulate({
      balancer: p2c({ now: clock.now, random: mulberry32(7) }),
      clock,
      list: () => instances(1, 1, 1),
      latency: (target) => (target.id === 'c' ? 1 : 10),
      outcome: (target) => (target.id === 'c' ? Code.Unavailable : Code.OK),
      calls: 30_000,
      intervalMs: 1,
    });
    const failing = share(picks, 'c');
    console.log('share of an instance failing in 1 ms (p2c):', failing);
    expect(failing).toBeLessThan(0.05);
  });

  it('ignores the latency of cancelled calls', () => {
    const clock = fakeClock();
    const balancer = p2c({ now: clock.now, random: mulberry32(8) });
    const [a, b] = instances(1, 1) as [ServiceInstance, ServiceInstance];
    answer(balancer, a, 50);
    answer(balancer, b, 10);
    for (let i = 0; i < 10; i++) answer(balancer, a, 0, Code.Cancelled);
    expect(balancer.pick([a, b], info())).toBe(b);
  });

  it('compares two distinct instances', () => {
    const balancer = p2c({ random: () => 0 });
    const [a, b] = instances(1, 1) as [ServiceInstance, ServiceInstance];
    balancer.onStart?.(a);
    // random() = 0 draws index 0 twice; the second draw skips it, so b is compared and wins.
    expect(balancer.pick([a, b], info())).toBe(b);
    balancer.onEnd?.(a, ok(1));
  });

  it('rejects a non-positive decay', () => {
    expect(() => p2c({ decay: 0 })).toThrow(RpcError);
    expect(() => p2c({ decay: Number.NaN })).toThrow(/decay must be positive/);
  });

  it('rejects an infinite decay and a failurePenalty that is not a finite number >= 0', () => {
    const bad = [
      { decay: Number.POSITIVE_INFINITY },
      { failurePenalty: Number.NaN },
      { failurePenalty: -1 },
      { failurePenalty: Number.POSITIVE_INFINITY },
    ];
    for (const options of bad) {
      expect(() => p2c(options), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: Code.InvalidArgument }) as RpcError,
      );
    }
    expect(p2c({ failurePenalty: 0 }).name).toBe('p2c');
  });
});
