import { describe, expect, it } from 'vitest';
import { RequestMap } from './request-map.js';

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);

describe('RequestMap', () => {
  it('gets, counts, replaces and deletes by id, like a Map', () => {
    const m = new RequestMap<string>();
    m.set(1, 'a').set(2, 'b');
    expect(m.size).toBe(2);
    expect([m.get(1), m.get(2), m.get(3)]).toEqual(['a', 'b', undefined]);
    expect([m.has(1), m.has(3)]).toEqual([true, false]);
    m.set(1, 'a2');
    expect(m.size).toBe(2);
    expect(m.get(1)).toBe('a2');
    expect(m.delete(1)).toBe(true);
    expect(m.delete(1)).toBe(false);
    expect(m.get(1)).toBeUndefined();
    expect(m.size).toBe(1);
  });

  it('keeps ids that share a slot apart (a long call still waiting when the ids come round)', () => {
    const m = new RequestMap<string>();
    // 64 slots at first: 5, 69 and 133 share one.
    m.set(5, 'x').set(69, 'y').set(133, 'z');
    expect([m.get(5), m.get(69), m.get(133)]).toEqual(['x', 'y', 'z']);
    expect(m.has(69)).toBe(true);
    m.set(69, 'y2');
    expect(m.get(69)).toBe('y2');
    expect(m.size).toBe(3);
    expect(m.delete(69)).toBe(true);
    expect([m.get(5), m.get(69), m.get(133)]).toEqual(['x', undefined, 'z']);
    expect(m.delete(5)).toBe(true);
    // The slot is free again, and the id parked elsewhere is still found.
    expect(m.get(133)).toBe('z');
    m.set(197, 'w');
    expect([m.get(133), m.get(197), m.size]).toEqual(['z', 'w', 2]);
  });

  it('grows, and loses nothing on the way', () => {
    const m = new RequestMap<number>();
    const ids = Array.from({ length: 5_000 }, (_, i) => i * 3 + 1);
    for (const id of ids) m.set(id, id * 10);
    expect(m.size).toBe(5_000);
    for (const id of ids) expect(m.get(id)).toBe(id * 10);
    for (const id of ids.slice(0, 2_500)) expect(m.delete(id)).toBe(true);
    expect(m.size).toBe(2_500);
    expect(sorted(m.values())).toEqual(ids.slice(2_500).map((id) => id * 10));
  });

  it('takes ids beyond 2^32 (request ids go up to 2^53 − 1)', () => {
    const m = new RequestMap<string>();
    m.set(2 ** 40 + 7, 'big')
      .set(Number.MAX_SAFE_INTEGER, 'max')
      .set(7, 'small');
    expect([m.get(2 ** 40 + 7), m.get(Number.MAX_SAFE_INTEGER), m.get(7)]).toEqual(['big', 'max', 'small']);
    expect(m.get(2 ** 32 + 7)).toBeUndefined();
    expect(m.delete(Number.MAX_SAFE_INTEGER)).toBe(true);
    expect(m.size).toBe(2);
  });

  it('forEach visits each entry once, also when the callback deletes', () => {
    const m = new RequestMap<number>();
    for (const id of [1, 65, 129, 2, 3]) m.set(id, id);
    const seen: number[] = [];
    m.forEach((v) => {
      seen.push(v);
      m.delete(v);
    });
    expect(sorted(seen)).toEqual([1, 2, 3, 65, 129]);
    expect([m.size, m.values()]).toEqual([0, []]);
  });

  it('values() is a snapshot: deleting while walking it is safe', () => {
    const m = new RequestMap<number>();
    for (const id of [1, 65, 2]) m.set(id, id);
    const walked: number[] = [];
    for (const v of m.values()) {
      walked.push(v);
      m.delete(1);
      m.delete(65);
      m.delete(2);
    }
    expect(sorted(walked)).toEqual([1, 2, 65]);
    expect(m.size).toBe(0);
  });

  it('clear() empties it', () => {
    const m = new RequestMap<number>();
    for (const id of [1, 65, 2]) m.set(id, id);
    m.clear();
    expect([m.size, m.get(1), m.get(65), m.has(2)]).toEqual([0, undefined, undefined, false]);
  });
});
