import type { ServiceInstance } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { instance } from '../test/support.js';
import { buildRing, MAX_RING_POINTS, mapSubset, ownerAmong, ownerOf, pointCounts } from './hash-ring.js';
import { MAX_WEIGHT } from './weight.js';

/** One point per instance, at the position given here (`a#0` at 10, …), so ties and wrapping are chosen. */
const at: Record<string, number> = { 'a#0': 10, 'b#0': 20, 'c#0': 20, 'd#0': 30 };
const hash = (text: string) => at[text] ?? 0;
const [a, b, c, d] = [instance('a'), instance('b'), instance('c'), instance('d')];
const all = [a, b, c, d];

/** `mapSubset` of `list` onto the ring of `all`, which must accept it. */
function slotsOf(list: ServiceInstance[]): Int32Array {
  const slots = new Int32Array(all.length);
  expect(mapSubset(buildRing(all, 1, hash), list, slots)).toBe(true);
  return slots;
}

describe('ownerAmong', () => {
  it('gives, for every hash, the owner that a ring built for the subset gives', () => {
    const ring = buildRing(all, 1, hash);
    for (const drop of all) {
      const subset = all.filter((x) => x !== drop);
      const own = buildRing(subset, 1, hash);
      const slots = slotsOf(subset);
      for (const h of [0, 10, 11, 20, 21, 30, 31, 0xffff_ffff]) {
        expect([drop.id, h, ownerAmong(ring, slots, h)]).toEqual([drop.id, h, ownerOf(own, h)]);
      }
    }
  });

  it('wraps past the last point to the first one kept', () => {
    const ring = buildRing(all, 1, hash);
    // d (at 30) left out: a hash after 20 wraps to a.
    expect(ownerAmong(ring, slotsOf([a, b, c]), 25)).toBe(0);
    // a left out too: it wraps past a to b, now at index 0.
    expect(ownerAmong(ring, slotsOf([b, c]), 25)).toBe(0);
    expect(ownerAmong(ring, slotsOf([c]), 25)).toBe(0);
  });

  it('gives a tie to the earlier instance, b before c at 20, and to c once b is left out', () => {
    const ring = buildRing(all, 1, hash);
    expect(ownerOf(ring, 15)).toBe(1);
    expect(ownerAmong(ring, slotsOf([a, c, d]), 15)).toBe(1);
  });

  it('stops after one turn when no owner is kept', () => {
    expect(ownerAmong(buildRing(all, 1, hash), new Int32Array(all.length).fill(-1), 15)).toBe(-1);
  });
});

describe('mapSubset', () => {
  it('maps each owner to its index in the subset, -1 for those left out', () => {
    expect([...slotsOf([b, d])]).toEqual([-1, 0, -1, 1]);
  });

  it('refuses a list with an id the ring lacks, another weight, another order or a duplicate', () => {
    const ring = buildRing(all, 1, hash);
    const slots = new Int32Array(all.length);
    expect(mapSubset(ring, [a, instance('z')], slots)).toBe(false);
    expect(mapSubset(ring, [a, instance('b', 2)], slots)).toBe(false);
    expect(mapSubset(ring, [c, a], slots)).toBe(false);
    expect(mapSubset(ring, [a, a], slots)).toBe(false);
    expect(mapSubset(ring, [...all, instance('e')], slots)).toBe(false);
    expect(mapSubset(ring, [b, c], slots)).toBe(true);
  });
});

describe('pointCounts', () => {
  const sum = (counts: readonly number[]) => counts.reduce((a, b) => a + b, 0);

  it('is round(virtualNodes × weight), at least 1, while the ring holds at most 2^20 points', () => {
    expect(pointCounts([1, 2, 0.5, 0.001], 160)).toEqual([160, 320, 80, 1]);
    expect(sum(pointCounts(Array(6_553).fill(1), 160))).toBe(6_553 * 160);
  });

  it('scales a larger ring down to about 2^20 points, keeping the shares of the weights', () => {
    for (const [weights, virtualNodes] of [
      [[1e9, 3e9, 1], 160],
      [[1, 1, 1], 2 ** 30],
      [[MAX_WEIGHT, MAX_WEIGHT, MAX_WEIGHT, 2], 2 ** 31],
      [Array(7_000).fill(1), 160],
    ] as const) {
      const counts = pointCounts(weights, virtualNodes);
      expect(sum(counts)).toBeLessThanOrEqual(MAX_RING_POINTS + weights.length);
      expect(sum(counts)).toBeGreaterThan(MAX_RING_POINTS * 0.99);
      const total = sum(weights);
      for (let i = 0; i < weights.length; i++) {
        const share = (weights[i]! / total) * MAX_RING_POINTS;
        expect(Math.abs(counts[i]! - share)).toBeLessThanOrEqual(1);
      }
    }
  });
});
