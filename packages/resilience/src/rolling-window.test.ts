import { describe, expect, it } from 'vitest';
import { RollingWindow } from './rolling-window.js';

describe('RollingWindow (internal)', () => {
  it('keeps the current bucket and the buckets - 1 before it', () => {
    const w = new RollingWindow(1_000, 10, 0);
    for (let t = 0; t < 1_000; t += 100) w.add(t, 1, t);
    expect(w.totalA).toBe(10);
    w.advance(1_000); // the bucket of t=0 leaves
    expect(w.totalA).toBe(9);
    expect(w.totalB).toBe(4_500);
    w.advance(1_450); // 4 more leave (100..400)
    expect(w.totalA).toBe(5);
    w.advance(50_000);
    expect([w.totalA, w.totalB]).toEqual([0, 0]);
  });

  it('a clock that goes backwards leaves the window where it is', () => {
    const w = new RollingWindow(1_000, 10, 5_000);
    w.add(5_000, 1, 0);
    w.add(4_000, 1, 0);
    expect(w.totalA).toBe(2);
    w.advance(5_950);
    expect(w.totalA).toBe(2);
    w.advance(6_000);
    expect(w.totalA).toBe(0);
  });

  it('a one-bucket window clears as a whole', () => {
    const w = new RollingWindow(100, 1, 0);
    w.add(99, 3, 1);
    expect(w.totalA).toBe(3);
    w.add(100, 1, 0);
    expect([w.totalA, w.totalB]).toEqual([1, 0]);
  });
});

describe('RollingWindow (internal): a clock that goes back further than the window', () => {
  it('re-anchors at the new time, so its counts expire a window later, not when the clock catches up', () => {
    const w = new RollingWindow(1_000, 10, 10_000_000);
    w.add(10_000_000, 1, 1);
    const back = 10_000_000 - 3_600_000; // an NTP step of an hour
    w.add(back, 1, 0);
    expect([w.totalA, w.totalB]).toEqual([2, 1]);
    w.advance(back + 999);
    expect(w.totalA).toBe(2);
    w.advance(back + 1_000);
    expect([w.totalA, w.totalB]).toEqual([0, 0]);
    // And it slides normally from there.
    w.add(back + 1_500, 1, 0);
    w.advance(back + 2_400);
    expect(w.totalA).toBe(1);
    w.advance(back + 2_500);
    expect(w.totalA).toBe(0);
  });
});
