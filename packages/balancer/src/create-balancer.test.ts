import type { Balancer, ServiceInstance } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fakeClock, info, instance, mulberry32 } from '../test/support.js';
import { argKey, balancerNames, createBalancer } from './index.js';

function make(name: string, seed: number, random?: () => number): Balancer {
  const clock = fakeClock();
  return createBalancer(name, { random: random ?? mulberry32(seed), now: clock.now, key: argKey(0) });
}

const weight = fc.oneof(
  fc.integer({ min: 1, max: 10 }),
  fc.constantFrom(0, -1, 0.5, Number.NaN, Number.POSITIVE_INFINITY),
);
/** A list of up to 6 instances drawn from a pool of 8 ids, with any weights. */
const list = fc
  .uniqueArray(fc.integer({ min: 0, max: 7 }), { maxLength: 6 })
  .chain((ids) =>
    fc.tuple(fc.constant(ids), fc.array(weight, { minLength: ids.length, maxLength: ids.length })),
  )
  .map(([ids, weights]) => ids.map((id, i) => instance(`i${id}`, weights[i]!)));
const step = fc.record({
  list,
  key: fc.option(fc.string({ maxLength: 4 }), { nil: undefined }),
  end: fc.boolean(),
  code: fc.constantFrom(Code.OK, Code.Unavailable, Code.Cancelled, Code.InvalidArgument),
  latency: fc.oneof(fc.double({ min: 0, max: 1000, noNaN: true }), fc.constantFrom(-1, Number.NaN)),
});

describe('createBalancer', () => {
  it('creates each balancer by name', () => {
    for (const name of balancerNames) expect(make(name, 1).name).toBe(name);
  });

  it('rejects an unknown name, listing the known ones', () => {
    expect(() => createBalancer('fastest')).toThrow(
      /unknown balancer "fastest"; expected one of "round-robin"/,
    );
    expect(() => createBalancer('fastest')).toThrow(RpcError);
  });

  it('asks for a key for consistent-hash', () => {
    expect(() => createBalancer('consistent-hash')).toThrow(/needs options.key/);
  });
});

describe.each(balancerNames)('%s (properties)', (name) => {
  it('never picks outside the list, however the list, weights and outcomes change between picks', () => {
    fc.assert(
      fc.property(fc.integer(), fc.array(step, { minLength: 1, maxLength: 40 }), (seed, steps) => {
        const balancer = make(name, seed);
        const inFlight: ServiceInstance[] = [];
        for (const s of steps) {
          if (s.list.length > 0) {
            const picked = balancer.pick(s.list, info('Svc', {}, s.key === undefined ? [] : [s.key]));
            expect(s.list).toContain(picked);
            balancer.onStart?.(picked);
            inFlight.push(picked);
          }
          const done = s.end ? inFlight.shift() : undefined;
          if (done !== undefined) balancer.onEnd?.(done, { code: s.code, latencyMs: s.latency });
        }
      }),
      { numRuns: 200 },
    );
  });

  it('stays in the list with a random source at or past the ends of [0, 1)', () => {
    const odd = fc.constantFrom(0, 0.5, 0.9999999, 1, -0.5, 2, Number.NaN);
    fc.assert(
      fc.property(fc.array(odd, { minLength: 1, maxLength: 8 }), list, (values, instances) => {
        fc.pre(instances.length > 0);
        let i = 0;
        const balancer = make(name, 0, () => values[i++ % values.length]!);
        for (let n = 0; n < 10; n++)
          expect(instances).toContain(balancer.pick(instances, info('Svc', {}, ['k'])));
      }),
      { numRuns: 100 },
    );
  });

  it('throws RpcError(Unavailable) naming the service for an empty list', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 12 }), (service) => {
        const error = (() => {
          try {
            make(name, 1).pick([], info(service));
          } catch (e) {
            return e;
          }
          return undefined;
        })();
        expect(error).toBeInstanceOf(RpcError);
        expect((error as RpcError).code).toBe(Code.Unavailable);
        expect((error as RpcError).message).toContain(`"${service}"`);
      }),
      { numRuns: 20 },
    );
  });
});
