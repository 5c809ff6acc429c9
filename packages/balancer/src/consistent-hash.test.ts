import { Code, type RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { firstPicksWithRetries, info, instance, instances, tally } from '../test/support.js';
import { argKey, consistentHash, metadataKey, murmur3 } from './index.js';

const byUser = () => consistentHash({ key: metadataKey('x-user') });
const keys = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

function owners(balancer: ReturnType<typeof consistentHash>, list: ReturnType<typeof instances>): string[] {
  return keys.map((user) => balancer.pick(list, info('Svc', { 'x-user': user })).id);
}

describe('consistentHash', () => {
  it('sends the same key to the same instance, also from a new array with the same members', () => {
    const balancer = byUser();
    const first = owners(balancer, instances(1, 1, 1));
    expect(owners(balancer, instances(1, 1, 1))).toEqual(first);
    expect(owners(byUser(), instances(1, 1, 1))).toEqual(first);
  });

  it('spreads 10,000 keys over 3 instances within 5% of a third each', () => {
    const ids = owners(byUser(), instances(1, 1, 1));
    for (const id of ['a', 'b', 'c']) {
      expect(Math.abs(ids.filter((x) => x === id).length / keys.length - 1 / 3)).toBeLessThan(0.05);
    }
  });

  it('remaps 25% ± 5% of 10,000 keys when a 4th instance joins, all of them to the new one', () => {
    const balancer = byUser();
    const before = owners(balancer, instances(1, 1, 1));
    const after = owners(balancer, instances(1, 1, 1, 1));
    const moved = before.filter((id, i) => after[i] !== id);
    const movedTo = new Set(after.filter((id, i) => before[i] !== id));
    console.log('keys remapped when a 4th instance joins:', moved.length / keys.length);
    expect(Math.abs(moved.length / keys.length - 0.25)).toBeLessThan(0.05);
    expect([...movedTo]).toEqual(['d']);
  });

  it('moves only the keys of an instance that leaves', () => {
    const balancer = byUser();
    const before = owners(balancer, instances(1, 1, 1, 1));
    const list = instances(1, 1, 1, 1).filter((x) => x.id !== 'b');
    const after = keys.map((user) => balancer.pick(list, info('Svc', { 'x-user': user })).id);
    before.forEach((id, i) => {
      if (id !== 'b') expect(after[i]).toBe(id);
    });
  });

  it('gives an instance of weight 2 about twice the keys', () => {
    const ids = owners(byUser(), instances(2, 1, 1));
    expect(Math.abs(ids.filter((x) => x === 'a').length / keys.length - 0.5)).toBeLessThan(0.05);
  });

  it('builds the ring only when ids or weights change', () => {
    let hashes = 0;
    const counting = (text: string) => {
      hashes++;
      return murmur3(text);
    };
    const balancer = consistentHash({ key: metadataKey('x-user'), virtualNodes: 10, hash: counting });
    const pick = (list: ReturnType<typeof instances>) => balancer.pick(list, info('Svc', { 'x-user': 'u' }));
    pick(instances(1, 1, 1));
    expect(hashes).toBe(31); // 3 × 10 points + the key
    pick(instances(1, 1, 1));
    expect(hashes).toBe(32); // same members in a new array: the key only
    pick(instances(1, 2, 1));
    expect(hashes).toBe(73); // b reweighted: 10 + 20 + 10 points + the key
  });

  it('keeps the ring of the full list while filtered copies come and go (retries, open breakers)', () => {
    let hashes = 0;
    const counting = (text: string) => {
      hashes++;
      return murmur3(text);
    };
    const balancer = consistentHash({ key: metadataKey('x-user'), virtualNodes: 10, hash: counting });
    const all = instances(1, 1, 1);
    const pick = (list: ReturnType<typeof instances>, user: string) =>
      balancer.pick(list, info('Svc', { 'x-user': user })).id;
    const before = keys.slice(0, 100).map((user) => pick(all, user));
    pick(
      all.filter((i) => i.id !== 'b'),
      'u',
    );
    expect(hashes).toBe(100 + 30 + 1); // the keys and the full list's ring: the copy walks that ring
    hashes = 0;
    for (let i = 0; i < 10; i++) {
      pick(all, 'u');
      pick(
        all.filter((x) => x.id !== 'b'),
        'u',
      );
    }
    expect(hashes).toBe(20); // the keys only: neither ring was built again
    expect(keys.slice(0, 100).map((user) => pick(all, user))).toEqual(before);
  });

  it('spreads calls without a key round robin, also with a retry on the list without the one tried', () => {
    const balancer = byUser();
    const all = instances(1, 1, 1, 1);
    expect(Object.values(tally(firstPicksWithRetries(balancer, all, 400, 2)))).toEqual([100, 100, 100, 100]);
  });

  it('spreads calls without a key round robin', () => {
    const balancer = byUser();
    const list = instances(1, 1, 1);
    const ids = Array.from({ length: 6 }, () => balancer.pick(list, info()).id);
    expect(new Set(ids).size).toBe(3);
  });

  it('reads keys from metadata or arguments', () => {
    expect(metadataKey('x-user')(info('Svc', { 'x-user': 'ann' }))).toBe('ann');
    expect(metadataKey('x-user')(info())).toBeUndefined();
    expect(argKey()(info('Svc', {}, ['cart-1', 2]))).toBe('cart-1');
    expect(argKey(1)(info('Svc', {}, ['cart-1', 2]))).toBe('2');
    expect(argKey(0)(info('Svc', {}, 7n))).toBe('7');
    expect(argKey(0)(info('Svc', {}, [{ id: 1 }]))).toBeUndefined();
    expect(argKey(1)(info('Svc', {}, 'x'))).toBeUndefined();
  });

  it('keeps one ring per service', () => {
    const balancer = byUser();
    const other = [instance('x', 1, 'Other'), instance('y', 1, 'Other')];
    const mine = owners(balancer, instances(1, 1, 1));
    balancer.pick(other, info('Other', { 'x-user': 'u' }));
    expect(owners(balancer, instances(1, 1, 1))).toEqual(mine);
  });

  it('picks on a list with a huge weight (every pick threw a RangeError) and keeps the shares of weights', () => {
    const balancer = byUser();
    const list = [instance('a', 1e9), instance('b', 3e9), instance('c', 1)];
    const counts = tally(owners(balancer, list));
    expect(Math.abs((counts.a ?? 0) / keys.length - 0.25)).toBeLessThan(0.03);
    expect(Math.abs((counts.b ?? 0) / keys.length - 0.75)).toBeLessThan(0.03);
    expect(counts.c ?? 0).toBeLessThan(10); // 1 point of about 2^20 (hash-ring.test.ts checks the counts)
  });

  it('spreads calls whose key is not a string round robin (null threw a TypeError), and hashes an empty one', () => {
    const list = instances(1, 1, 1);
    for (const key of [null, 42, {}]) {
      const balancer = consistentHash({ key: () => key as unknown as string });
      const ids = Array.from({ length: 6 }, () => balancer.pick(list, info()).id);
      expect([key, new Set(ids).size]).toEqual([key, 3]);
    }
    const empty = consistentHash({ key: () => '' });
    const ids = Array.from({ length: 6 }, () => empty.pick(list, info()).id);
    expect(new Set(ids).size).toBe(1);
  });

  it('metadataKey gives no key for names of Object.prototype absent from the call (it threw a TypeError)', () => {
    for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect([name, metadataKey(name)(info())]).toEqual([name, undefined]);
      const balancer = consistentHash({ key: metadataKey(name) });
      expect(() => balancer.pick(instances(1, 1), info())).not.toThrow();
      expect(metadataKey(name)(info('Svc', { [name]: 'ann' }))).toBe('ann');
    }
  });

  it('argKey refuses an index that can never find an argument', () => {
    for (const index of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => argKey(index), String(index)).toThrow(
        expect.objectContaining({ code: Code.InvalidArgument }) as RpcError,
      );
    }
  });

  it('never returns undefined for an array shrunk in place, and picks a joiner pushed onto it', () => {
    const balancer = byUser();
    const list = instances(1, 1, 1, 1);
    owners(balancer, list);
    list.pop();
    list.pop();
    expect(new Set(owners(balancer, list))).toEqual(new Set(['a', 'b']));
    list.push(instance('x'), instance('y'), instance('z'));
    expect(new Set(owners(balancer, list))).toEqual(new Set(['a', 'b', 'x', 'y', 'z']));
  });

  it('rejects a virtualNodes count that is not a positive integer', () => {
    for (const virtualNodes of [0, -1, 1.5, Number.NaN]) {
      expect(() => consistentHash({ key: metadataKey('k'), virtualNodes })).toThrow(
        expect.objectContaining({ code: Code.InvalidArgument }) as RpcError,
      );
    }
  });
});
