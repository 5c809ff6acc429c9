import { describe, expect, it } from 'vitest';
import { countPicks, firstPicksWithRetries, info, instances, tally } from '../test/support.js';
import { roundRobin } from './index.js';

describe('roundRobin', () => {
  it('gives each of 3 instances exactly a third of 30,000 picks', () => {
    const counts = countPicks(roundRobin(), instances(1, 1, 1), 30_000);
    expect([...counts.values()]).toEqual([10_000, 10_000, 10_000]);
  });

  it('rotates in list order, ignoring weights', () => {
    const list = instances(5, 1, 1);
    const balancer = roundRobin();
    const ids = Array.from({ length: 9 }, () => balancer.pick(list, info()).id).join('');
    // The rotation starts at a random place; from there it is exact.
    expect('abcabcabcabc').toContain(ids);
  });

  it('keeps one rotation per service', () => {
    const balancer = roundRobin();
    const list = instances(1, 1);
    const first = balancer.pick(list, info('A')).id;
    balancer.pick(list, info('B'));
    balancer.pick(list, info('B'));
    balancer.pick(list, info('B'));
    expect(balancer.pick(list, info('A')).id).not.toBe(first);
  });

  it('a retry on the list without the instance tried leaves the first picks even', () => {
    const balancer = roundRobin();
    const all = instances(1, 1, 1, 1);
    // Every other call retries; with one shared position this sent the first picks to 2 of the 4.
    expect(Object.values(tally(firstPicksWithRetries(balancer, all, 400, 2)))).toEqual([100, 100, 100, 100]);
  });

  it('carries on evenly when the list changes', () => {
    const balancer = roundRobin();
    countPicks(balancer, instances(1, 1, 1), 7);
    const counts = countPicks(balancer, instances(1, 1, 1, 1, 1), 10_000);
    expect([...counts.values()]).toEqual([2000, 2000, 2000, 2000, 2000]);
    const shrunk = countPicks(balancer, instances(1, 1), 10);
    expect([...shrunk.values()]).toEqual([5, 5]);
  });
});
