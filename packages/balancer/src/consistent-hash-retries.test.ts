import type { ServiceInstance } from '@mini-rpc/protocol';
import { Code, type RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { info, instance } from '../test/support.js';
import { consistentHash, metadataKey, murmur3 } from './index.js';

const keys = Array.from({ length: 2_000 }, (_, i) => `user-${i}`);

/** Instances `i-0`, `i-1`, … with weights 1, 2, 3, 1, 2, 3, … */
function fleet(n: number): ServiceInstance[] {
  return Array.from({ length: n }, (_, i) => instance(`i-${i}`, 1 + (i % 3)));
}

/** `list` without the instances at the positions in `drop`, as the client filters it for a retry. */
function without(list: readonly ServiceInstance[], drop: readonly number[]): ServiceInstance[] {
  return list.filter((_, i) => !drop.includes(i));
}

/** A consistent-hash balancer on `x-user` whose `hashes()` counts the calls of its hash function. */
function counted(options: { virtualNodes?: number; hash?: (text: string) => number } = {}) {
  const { virtualNodes = 160, hash = murmur3 } = options;
  let hashes = 0;
  const balancer = consistentHash({
    key: metadataKey('x-user'),
    virtualNodes,
    hash: (text) => {
      hashes++;
      return hash(text);
    },
  });
  const owners = (list: readonly ServiceInstance[]) =>
    keys.map((user) => balancer.pick(list, info('Svc', { 'x-user': user })).id);
  return { balancer, owners, hashes: () => hashes };
}

/** The owners of `keys` from a new balancer given only `list`: what a ring built for `list` gives. */
function fresh(list: readonly ServiceInstance[], hash?: (text: string) => number): string[] {
  return counted(hash === undefined ? {} : { hash }).owners(list);
}

/** The points `buildRing` places for `list`: `round(virtualNodes × weight)` per instance. */
const points = (list: readonly ServiceInstance[], virtualNodes = 160) =>
  list.reduce((sum, x) => sum + Math.max(1, Math.round(virtualNodes * x.weight)), 0);

/** Only 256 distinct values, so points of different instances tie all the time. */
const coarse = (text: string) => (murmur3(text) & 0xff00_0000) >>> 0;

describe('consistentHash on filtered copies of the list (retries, open breakers)', () => {
  it.each([16, 200])(
    'picks on %i instances minus some what a ring built for the copy gives, building none',
    (n) => {
      const all = fleet(n);
      const { owners, hashes } = counted();
      const before = owners(all);
      const drops = [[0], [n - 1], [7], [1, 2, 3], all.map((_, i) => i).filter((i) => i % 2 === 1)];
      for (const drop of drops) {
        const copy = without(all, drop);
        const spent = hashes();
        const after = owners(copy);
        expect(hashes() - spent).toBe(keys.length); // the keys only: no ring for the copy
        expect(after).toEqual(fresh(copy));
        // Minimal disruption: a key whose instance is still there stays on it.
        const kept = new Set(copy.map((x) => x.id));
        expect(after.filter((_, i) => kept.has(before[i]!))).toEqual(before.filter((id) => kept.has(id)));
      }
    },
  );

  it('breaks ties between equal points as a ring built for the copy does', () => {
    const all = fleet(16);
    const { owners, hashes } = counted({ hash: coarse });
    owners(all);
    for (const drop of [[0], [5], [15], [2, 3, 9, 10]]) {
      const copy = without(all, drop);
      const spent = hashes();
      expect(owners(copy)).toEqual(fresh(copy, coarse));
      expect(hashes() - spent).toBe(keys.length);
    }
    // Reordered, ties would go the other way on the full list's ring: this copy gets a ring of its own.
    const reversed = without(all, [4]).reverse();
    const spent = hashes();
    expect(owners(reversed)).toEqual(fresh(reversed, coarse));
    expect(hashes() - spent).toBe(keys.length + points(reversed));
  });

  it('builds no ring for retries from 8 instances up, nor for a retry of a retry', () => {
    const all = fleet(200);
    const { balancer, hashes } = counted({ virtualNodes: 10 });
    const pick = (list: readonly ServiceInstance[], user: string) =>
      balancer.pick(list, info('Svc', { 'x-user': user }));
    pick(all, 'first');
    expect(hashes()).toBe(points(all, 10) + 1);
    for (let call = 0; call < 200; call++) {
      const user = `user-${call}`;
      const tried = pick(all, user);
      const retry = all.filter((x) => x !== tried);
      const second = pick(retry, user);
      const third = pick(without(retry, [retry.indexOf(second)]), user);
      expect(new Set([tried, second, third]).size).toBe(3);
    }
    expect(hashes()).toBe(points(all, 10) + 1 + 200 * 3); // the keys only
    expect(() => pick([], 'u')).toThrow(expect.objectContaining({ code: Code.Unavailable }) as RpcError);
  });

  it('builds a ring for a list that is not the full one minus some instances, and picks right', () => {
    const all = fleet(16);
    const { owners, hashes } = counted();
    owners(all);
    const lists = {
      'an instance never seen': [...without(all, [3]), instance('new')],
      'another weight': without(all, [3]).map((x) => (x.id === 'i-5' ? instance('i-5', 7) : x)),
      'under half of the instances': all.slice(0, 7),
    };
    for (const [why, list] of Object.entries(lists)) {
      const spent = hashes();
      expect(owners(list), why).toEqual(fresh(list));
      expect(hashes() - spent, why).toBe(keys.length + points(list));
    }
    const spent = hashes();
    owners(all);
    expect(hashes() - spent).toBe(keys.length); // the full list's ring was kept
  });
});
