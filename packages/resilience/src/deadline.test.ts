import { Code } from '@mini-rpc/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_TIMEOUTS, deadlineFrom, remaining, resolveTimeouts } from './index.js';

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('deadlineFrom / remaining', () => {
  it('count down on the Date.now clock and never go below 0', () => {
    const deadline = deadlineFrom(1_000);
    expect(deadline).toBe(Date.now() + 1_000);
    vi.advanceTimersByTime(400);
    expect(remaining(deadline)).toBe(600);
    vi.advanceTimersByTime(10_000);
    expect(remaining(deadline)).toBe(0);
  });

  it('no deadline means Infinity', () => {
    expect(remaining(undefined)).toBe(Number.POSITIVE_INFINITY);
    expect(remaining(deadlineFrom(Number.POSITIVE_INFINITY))).toBe(Number.POSITIVE_INFINITY);
  });

  it('a NaN deadline has 0 left, never NaN (which would pass every delay >= remaining check)', () => {
    expect(remaining(deadlineFrom(Number.NaN))).toBe(0);
    expect(remaining(Number.NaN)).toBe(0);
  });
});

describe('resolveTimeouts', () => {
  it('fills missing fields from the documented defaults', () => {
    expect(DEFAULT_TIMEOUTS).toEqual({ connectMs: 3_000, readMs: 15_000, writeMs: 15_000, callMs: 30_000 });
    expect(Object.isFrozen(DEFAULT_TIMEOUTS)).toBe(true);
    expect(resolveTimeouts({ callMs: 2_000, readMs: Number.POSITIVE_INFINITY })).toEqual({
      connectMs: 3_000,
      readMs: Number.POSITIVE_INFINITY,
      writeMs: 15_000,
      callMs: 2_000,
    });
    expect(resolveTimeouts()).toEqual(DEFAULT_TIMEOUTS);
  });

  it('rejects negative values with InvalidArgument', () => {
    expect(() => resolveTimeouts({ connectMs: -1 })).toThrow(
      expect.objectContaining({ code: Code.InvalidArgument }),
    );
  });
});
