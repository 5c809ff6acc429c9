import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { countPicks, firstPicksWithRetries, info, instance, instances, tally } from '../test/support.js';
import { smoothWeightedRoundRobin } from './index.js';
import { MEMBERSHIPS_KEPT } from './membership-cache.js';

function sequence(balancer = smoothWeightedRoundRobin(), list = instances(5, 1, 1), n = 7): string {
  return Array.from({ length: n }, () => balancer.pick(list, info()).id).join(' ');
}

function longestRun(ids: readonly string[]): number {
  let longest = 0;
  let run = 0;
  for (let i = 0; i < ids.length; i++) {
    run = i > 0 && ids[i] === ids[i - 1] ? run + 1 : 1;
    longest = Math.max(longest, run);
  }
  return longest;
}

describe('smoothWeightedRoundRobin', () => {
  it('spreads 5:1:1 as nginx does: a a b a c a a', () => {
    const balancer = smoothWeightedRoundRobin();
    expect(sequence(balancer)).toBe('a a b a c a a');
    expect(sequence(balancer)).toBe('a a b a c a a');
  });

  it('matches the weights exactly over every full cycle of 30,002 picks', () => {
    const counts = countPicks(smoothWeightedRoundRobin(), instances(5, 1, 1), 7 * 4286);
    expect(Object.fromEntries(counts)).toEqual({ a: 5 * 4286, b: 4286, c: 4286 });
  });

  it('matches any weights exactly over a cycle and never runs longer than the heaviest weight', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 6 }), (weights) => {
        const list = instances(...weights);
        const total = weights.reduce((a, b) => a + b, 0);
        const balancer = smoothWeightedRoundRobin();
        const ids = Array.from({ length: total * 3 }, () => balancer.pick(list, info()).id);
        for (let cycle = 0; cycle < 3; cycle++) {
          const slice = ids.slice(cycle * total, (cycle + 1) * total);
          list.forEach((item, i) => {
            expect(slice.filter((id) => id === item.id)).toHaveLength(weights[i]!);
          });
        }
        // A lone instance is picked every time; otherwise no instance runs longer than the heaviest weight.
        if (weights.length > 1) expect(longestRun(ids)).toBeLessThanOrEqual(Math.max(...weights));
      }),
    );
  });

  it('a list without an instance runs its own rotation; the full list resumes where it was', () => {
    const balancer = smoothWeightedRoundRobin();
    // current after `a a b`: a 1, b -4, c 3 (c is owed a pick)
    expect(sequence(balancer, instances(5, 1, 1), 3)).toBe('a a b');
    expect(sequence(balancer, instances(5, 1), 2)).toBe('a a');
    // c comes back with its 3: it gets the pick it was owed (with c reset to 0 this would be `a a`).
    expect(sequence(balancer, instances(5, 1, 1), 4)).toBe('a c a a');
  });

  it('a new list starts from the last rotation used, new ids at 0', () => {
    const balancer = smoothWeightedRoundRobin();
    // current after `a a b`: a 1, b -4, c 3; d joins at 0.
    expect(sequence(balancer, instances(5, 1, 1), 3)).toBe('a a b');
    expect(sequence(balancer, instances(5, 1, 1, 1), 5)).toBe('a c a a d');
  });

  it('one retry per call on the list without the first pick leaves the first picks exact (700 calls, 5:1:1)', () => {
    const balancer = smoothWeightedRoundRobin();
    const all = instances(5, 1, 1);
    const first = firstPicksWithRetries(balancer, all, 700);
    expect(first.slice(0, 7).join(' ')).toBe('a a b a c a a');
    expect(tally(first)).toEqual({ a: 500, b: 100, c: 100 });
  });

  it('a retry on 1,000 instances makes its rotation without searching the last list once per id', () => {
    // Every retry list of a large service is a new membership; looking each id up with `ids.indexOf` made
    // that O(n²) (a call and its retry on 1,000 instances went from 90 µs to 746 µs). Counted, not timed:
    // this catches a search per id through an Array method (indexOf, find, …), not a hand-written loop.
    const all = Array.from({ length: 1_000 }, (_, i) => instance(`i${i}`, 1 + (i % 3)));
    const balancer = smoothWeightedRoundRobin();
    const retries = Array.from({ length: 20 }, () => {
      const picked = balancer.pick(all, info());
      return all.filter((i) => i !== picked);
    });
    const methods = [
      'indexOf',
      'lastIndexOf',
      'includes',
      'find',
      'findIndex',
      'findLast',
      'findLastIndex',
    ] as const;
    const spies = methods.map((method) => vi.spyOn(Array.prototype, method));
    let searches = 0;
    try {
      for (const retry of retries) {
        balancer.pick(retry, info());
        balancer.pick(all, info());
      }
      // Read before mockRestore, which clears the calls.
      for (const spy of spies) searches += spy.mock.calls.length;
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(searches).toBeLessThan(all.length);
  });

  it('while an instance is left out (open breaker) the others share by weight; the full list stays exact', () => {
    const balancer = smoothWeightedRoundRobin();
    const all = instances(5, 1, 1);
    const withoutB = all.filter((i) => i.id !== 'b');
    const counts = { full: new Map<string, number>(), withoutB: new Map<string, number>() };
    for (let round = 0; round < 7; round++) {
      for (let i = 0; i < 100; i++) {
        const left = i < 30;
        const id = balancer.pick(left ? withoutB : all, info()).id;
        const tally = left ? counts.withoutB : counts.full;
        tally.set(id, (tally.get(id) ?? 0) + 1);
      }
    }
    expect(Object.fromEntries(counts.full)).toEqual({ a: 350, b: 70, c: 70 });
    expect(Object.fromEntries(counts.withoutB)).toEqual({ a: 175, c: 35 });
  });

  it(`forgets the rotation of a list once ${MEMBERSHIPS_KEPT} other lists were used after it`, () => {
    const balancer = smoothWeightedRoundRobin();
    expect(sequence(balancer, instances(5, 1, 1), 3)).toBe('a a b');
    // MEMBERSHIPS_KEPT other lists, each with a fresh id so that none shares its state with a b c.
    for (let k = 0; k < MEMBERSHIPS_KEPT; k++) balancer.pick([instance(`x${k}`)], info());
    // a b c start again from the last list used (none of their ids there): all at 0.
    expect(sequence(balancer, instances(5, 1, 1), 7)).toBe('a a b a c a a');
  });

  it('follows a changed weight', () => {
    const balancer = smoothWeightedRoundRobin();
    countPicks(balancer, instances(5, 1, 1), 3);
    const counts = countPicks(balancer, instances(1, 1, 5), 7000);
    expect(Math.abs((counts.get('c') ?? 0) - 5000)).toBeLessThanOrEqual(3);
  });

  it('keeps separate state per service', () => {
    const balancer = smoothWeightedRoundRobin();
    const other = [instance('x', 1, 'Other'), instance('y', 3, 'Other')];
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push(balancer.pick(instances(5, 1, 1), info()).id);
      balancer.pick(other, info('Other'));
    }
    expect(ids.join(' ')).toBe('a a b a c a a');
  });

  it('shares picks between weights near Number.MAX_VALUE (their sum overflowed: one instance got them all)', () => {
    const list = [instance('a', 1e308), instance('b', 1e308), instance('c', 1)];
    expect(Object.fromEntries(countPicks(smoothWeightedRoundRobin(), list, 1_000))).toEqual({
      a: 500,
      b: 500,
    });
  });

  it('picks an instance pushed onto the same array (its current was NaN: never picked)', () => {
    const balancer = smoothWeightedRoundRobin();
    const list = instances(1, 1);
    countPicks(balancer, list, 10);
    list.push(instance('z'));
    expect(Object.fromEntries(countPicks(balancer, list, 30))).toEqual({ a: 10, b: 10, z: 10 });
  });
});
