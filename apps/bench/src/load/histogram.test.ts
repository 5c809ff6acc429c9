import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import { createLatencyHistogram, createSlotHistograms, windowCapacity } from './histogram.js';

describe('createLatencyHistogram', () => {
  it('summarises the values it stored as hdr-histogram-js does when it records them itself', () => {
    const direct = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 1e11,
      numberOfSignificantValueDigits: 3,
    });
    const h = createLatencyHistogram(1 << 14);
    // 0.02–5 ms, skewed like call latencies, with a tail.
    for (let i = 0; i < 10_000; i++) {
      const ms = 0.02 + ((i * 7919) % 10_000) ** 3 / 2e11;
      h.recordMs(ms);
      direct.recordValue(Math.round(Math.fround(ms) * 1e6));
    }
    const s = h.summary();
    const us = (ns: number): number => Math.round(ns / 100) / 10;
    expect(s.count).toBe(10_000);
    expect([s.p50, s.p99, s.p999, s.max]).toEqual([
      us(direct.getValueAtPercentile(50)),
      us(direct.getValueAtPercentile(99)),
      us(direct.getValueAtPercentile(99.9)),
      us(direct.maxValue),
    ]);
    expect(s.max).toBeGreaterThan(4_000);
    expect(s.p50).toBeLessThan(s.p99);
  });

  it('refuses to summarise a recorder that wrapped around, instead of reporting its last values only', () => {
    const h = createLatencyHistogram(4);
    for (let i = 0; i < 4; i++) h.recordMs(1);
    expect(h.summary().count).toBe(4);
    h.recordMs(1);
    expect(() => h.summary()).toThrow('5 latencies recorded where there is room for 4');
  });

  it('takes only powers of two', () => {
    expect(() => createLatencyHistogram(1000)).toThrow('capacity must be a power of two, got 1000');
  });
});

describe('windowCapacity', () => {
  it('holds a window at 4 million calls/s, in a power of two', () => {
    expect(windowCapacity(1_000)).toBe(1 << 22); // 4,000,000 → 4,194,304
    expect(windowCapacity(3_000)).toBe(1 << 24);
    expect(windowCapacity(1)).toBe(1 << 16);
  });

  it('gives the window slot room for its window, and the warm-up and after slots scratch room that wraps', () => {
    const [warm, window, after] = createSlotHistograms(1);
    for (let i = 0; i < 70_000; i++) {
      warm.recordMs(1);
      after.recordMs(1);
    }
    for (let i = 0; i < 65_536; i++) window.recordMs(1);
    expect(window.summary().count).toBe(65_536);
    expect(() => warm.summary()).toThrow(/room for 65536/);
  });
});
