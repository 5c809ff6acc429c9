import { Code } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { createRetryBudget } from './index.js';

function drain(budget: { tryRetry(): boolean }, max = 100_000): number {
  let n = 0;
  while (n < max && budget.tryRetry()) n++;
  return n;
}

describe('createRetryBudget', () => {
  it('allows a reserve of minRetriesPerSecond × window seconds with no traffic (default 100)', () => {
    const t = 0;
    const budget = createRetryBudget({ now: () => t });
    expect(budget.available).toBe(100);
    expect(drain(budget)).toBe(100);
    expect(budget.available).toBe(0);
  });

  it('adds ratio of a retry per call, exactly (10 calls at 0.1 give one retry)', () => {
    const t = 0;
    const budget = createRetryBudget({ ratio: 0.1, minRetriesPerSecond: 0, now: () => t });
    for (let i = 0; i < 9; i++) budget.recordCall();
    expect(budget.available).toBe(0);
    budget.recordCall();
    expect(budget.available).toBe(1);
    for (let i = 0; i < 9_990; i++) budget.recordCall();
    expect(drain(budget)).toBe(1_000);
  });

  it('keeps a ratio finer than a thousandth (0.0015 per call: 3 retries per 2,000 calls, not 4)', () => {
    const t = 0;
    const budget = createRetryBudget({ ratio: 0.0015, minRetriesPerSecond: 0, now: () => t });
    for (let i = 0; i < 2_000; i++) budget.recordCall();
    expect(budget.available).toBe(3);
    const tiny = createRetryBudget({ ratio: 0.0004, minRetriesPerSecond: 0, now: () => t });
    for (let i = 0; i < 2_500; i++) tiny.recordCall();
    expect(tiny.available).toBe(1);
  });

  it('retries in a window stay within ratio × calls + reserve', () => {
    let t = 0;
    const budget = createRetryBudget({ ratio: 0.2, minRetriesPerSecond: 5, windowMs: 1_000, now: () => t });
    let calls = 0;
    let retries = 0;
    for (let step = 0; step < 100; step++) {
      // 1 ms steps inside one window: calls and greedy retries interleave.
      t = step;
      for (let i = 0; i < 7; i++) {
        budget.recordCall();
        calls++;
      }
      retries += drain(budget);
      expect(retries).toBeLessThanOrEqual(Math.floor(calls * 0.2) + 5);
    }
    expect(retries).toBe(Math.floor(calls * 0.2) + 5);
  });

  it('deposits and withdrawals expire with the window, so the budget recovers by itself', () => {
    let t = 0;
    const budget = createRetryBudget({ ratio: 0.1, minRetriesPerSecond: 1, windowMs: 10_000, now: () => t });
    expect(drain(budget)).toBe(10);
    t += 5_000;
    expect(budget.available).toBe(0);
    t += 5_000; // the first bucket leaves the 10-bucket window
    expect(budget.available).toBe(10);
    for (let i = 0; i < 100; i++) budget.recordCall();
    expect(budget.available).toBe(20);
    t += 10_000;
    expect(budget.available).toBe(10);
  });

  it('recovers a window after the clock went back an hour, not an hour later', () => {
    let t = 50_000_000;
    const budget = createRetryBudget({ ratio: 0.1, minRetriesPerSecond: 1, windowMs: 10_000, now: () => t });
    expect(drain(budget)).toBe(10);
    t -= 3_600_000; // an NTP step back
    expect(budget.available).toBe(0);
    t += 10_000;
    expect(budget.available).toBe(10);
    expect(drain(budget)).toBe(10);
  });

  it('rejects bad options with InvalidArgument', () => {
    for (const options of [{ ratio: -0.1 }, { minRetriesPerSecond: -1 }, { windowMs: 0 }]) {
      expect(() => createRetryBudget(options)).toThrow(
        expect.objectContaining({ code: Code.InvalidArgument }),
      );
    }
  });
});
