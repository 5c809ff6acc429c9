import { describe, expect, it } from 'vitest';
import { BucketStore, TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('says how long until the next token', () => {
    const bucket = new TokenBucket(1, 0);
    const perMs = 4 / 1000; // 4 tokens/s: one every 250 ms
    expect(bucket.take(0, perMs, 1)).toBe(0);
    expect(bucket.take(0, perMs, 1)).toBe(250);
    expect(bucket.take(100, perMs, 1)).toBe(150);
    expect(bucket.take(250, perMs, 1)).toBe(0);
  });

  it('refills from the new reading after the clock jumped backwards, and its hint stays true', () => {
    const perMs = 0.001; // one token a second
    const bucket = new TokenBucket(1, 3_600_000);
    expect(bucket.take(3_600_000, perMs, 1)).toBe(0);
    // The clock steps back an hour (a wall clock corrected by NTP): the hint says 1 s, and 1 s later a token
    // must be there, not an hour later.
    expect(bucket.take(0, perMs, 1)).toBe(1_000);
    expect(bucket.take(999, perMs, 1)).toBe(1);
    expect(bucket.take(1_000, perMs, 1)).toBe(0);
  });

  it('ignores a clock that goes backwards', () => {
    const bucket = new TokenBucket(1, 1_000);
    expect(bucket.take(1_000, 0.001, 1)).toBe(0);
    expect(bucket.take(500, 0.001, 1)).toBeGreaterThan(0);
  });
});

describe('BucketStore', () => {
  it('stays within maxKeys under a flood of distinct callers', () => {
    const store = new BucketStore(100, 1 / 1000, 5);
    let maxSize = 0;
    for (let i = 0; i < 10_000; i++) {
      store.get(`caller-${i}`, i).take(i, 1 / 1000, 5);
      maxSize = Math.max(maxSize, store.size);
    }
    expect(maxSize).toBeLessThanOrEqual(100);
  });

  it('drops refilled buckets first, then the least recently used, and keeps an active caller', () => {
    const perMs = 1 / 1000;
    const store = new BucketStore(10, perMs, 5);
    // "hot" keeps using its bucket; the others are touched once each.
    let now = 0;
    const hot = store.get('hot', now);
    for (let i = 0; i < 5; i++) hot.take(now, perMs, 5);
    for (let i = 0; i < 100; i++) {
      now += 1;
      store.get(`cold-${i}`, now).take(now, perMs, 5);
      store.get('hot', now).take(now, perMs, 5);
    }
    // The hot caller's bucket survived every sweep: it is still (nearly) empty, not reset to full.
    expect(store.get('hot', now).tokens).toBeLessThan(1);
    expect(store.size).toBeLessThanOrEqual(10);
  });
});
