import { describe, expect, it } from 'vitest';
import { countPicks, info, instance, instances, mulberry32 } from '../test/support.js';
import { weightedRandom } from './index.js';

describe('weightedRandom', () => {
  it('gives each of 3 equal instances a third of 30,000 picks, within 3%', () => {
    const counts = countPicks(weightedRandom({ random: mulberry32(7) }), instances(1, 1, 1), 30_000);
    for (const n of counts.values()) expect(Math.abs(n / 30_000 - 1 / 3)).toBeLessThan(0.03);
  });

  it('follows the weights (5:1:1), within 3%', () => {
    const counts = countPicks(weightedRandom({ random: mulberry32(8) }), instances(5, 1, 1), 30_000);
    expect(Math.abs((counts.get('a') ?? 0) / 30_000 - 5 / 7)).toBeLessThan(0.03);
    expect(Math.abs((counts.get('b') ?? 0) / 30_000 - 1 / 7)).toBeLessThan(0.03);
    expect(Math.abs((counts.get('c') ?? 0) / 30_000 - 1 / 7)).toBeLessThan(0.03);
  });

  it('is spread with Math.random too', () => {
    const counts = countPicks(weightedRandom(), instances(1, 1, 1), 30_000);
    for (const n of counts.values()) expect(Math.abs(n / 30_000 - 1 / 3)).toBeLessThan(0.03);
  });

  it('maps the ends of [0, 1) to the first and last instance', () => {
    const list = instances(2, 1, 1);
    expect(weightedRandom({ random: () => 0 }).pick(list, info()).id).toBe('a');
    expect(weightedRandom({ random: () => 0.9999999 }).pick(list, info()).id).toBe('c');
    expect(weightedRandom({ random: () => 0.9999999 }).pick(instances(1, 1), info()).id).toBe('b');
  });

  it('follows weights near Number.MAX_VALUE too (their sum overflowed: every pick went to the last instance)', () => {
    const list = [instance('a', 1e308), instance('b', 1e308), instance('c', 1)];
    const counts = countPicks(weightedRandom({ random: mulberry32(9) }), list, 10_000);
    expect(counts.get('c') ?? 0).toBe(0);
    expect(Math.abs((counts.get('a') ?? 0) / 10_000 - 0.5)).toBeLessThan(0.03);
  });
});
