import { Code } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { type CircuitBreakerOptions, createCircuitBreaker } from './index.js';

function setup(options: CircuitBreakerOptions = {}) {
  const clock = { t: 1_000_000 };
  const breaker = createCircuitBreaker({ now: () => clock.t, ...options });
  const fail = (): void => {
    expect(breaker.allowRequest()).toBe(true);
    breaker.recordFailure(Code.Unavailable);
  };
  const succeed = (): void => {
    expect(breaker.allowRequest()).toBe(true);
    breaker.recordSuccess();
  };
  return { clock, breaker, fail, succeed };
}

describe('createCircuitBreaker: the failure rate at its threshold', () => {
  it('opens when failures / calls equals the threshold exactly (7 of 25 at 0.28; 0.28 × 25 rounds up)', () => {
    const { breaker, fail, succeed } = setup({
      failureRateThreshold: 0.28,
      minimumCalls: 25,
      consecutiveFailures: Number.POSITIVE_INFINITY,
    });
    for (let i = 0; i < 18; i++) succeed();
    for (let i = 0; i < 6; i++) fail();
    expect(breaker.state).toBe('closed');
    fail();
    expect(breaker.state).toBe('open');
  });

  it('for every threshold of two decimals and up to 100 calls: k = threshold × n failures open it, k - 1 do not', () => {
    const misses: string[] = [];
    for (let percent = 1; percent <= 100; percent++) {
      const threshold = percent / 100;
      for (let n = 1; n <= 100; n++) {
        if ((percent * n) % 100 !== 0) continue;
        const k = (percent * n) / 100;
        for (const failures of [k, k - 1]) {
          const breaker = createCircuitBreaker({
            failureRateThreshold: threshold,
            minimumCalls: n,
            consecutiveFailures: Number.POSITIVE_INFINITY,
          });
          for (let i = 0; i < n - failures; i++) breaker.recordSuccess();
          for (let i = 0; i < failures; i++) breaker.recordFailure(Code.Unavailable);
          const expected = failures === k ? 'open' : 'closed';
          if (breaker.state !== expected) misses.push(`${failures}/${n} at ${threshold}: ${breaker.state}`);
        }
      }
    }
    expect(misses).toEqual([]);
  });
});

describe('createCircuitBreaker: the cool-down over many trips', () => {
  it.each([{ coolDownFactor: 2 }, { coolDownFactor: Number.POSITIVE_INFINITY }])(
    'with coolDownMs 0 it goes half-open at once however often it reopens ($coolDownFactor)',
    (growth) => {
      const { breaker, clock } = setup({ coolDownMs: 0, consecutiveFailures: 1, ...growth });
      // The old cool-down, coolDownMs × factor^trips, was 0 × Infinity = NaN from the 1,025th trip at ×2
      // (the 2nd at factor Infinity): an open state that never ended.
      for (let trip = 0; trip < 1_100; trip++) {
        expect([trip, breaker.allowRequest()]).toEqual([trip, true]);
        breaker.recordFailure(Code.Unavailable);
        expect([trip, breaker.state]).toEqual([trip, 'half-open']);
        clock.t += 1;
      }
      expect(breaker.stats().trips).toBe(1_100);
    },
  );

  it('stays at maxCoolDownMs over thousands of trips in a row, and starts again from coolDownMs on close', () => {
    const { breaker, clock } = setup({ coolDownMs: 1, maxCoolDownMs: 10, consecutiveFailures: 1 });
    const coolDowns = new Set<number>();
    for (let trip = 0; trip < 2_000; trip++) {
      breaker.allowRequest();
      breaker.recordFailure(Code.Unavailable);
      if (trip >= 4) coolDowns.add(breaker.stats().openUntil - clock.t);
      clock.t = breaker.stats().openUntil;
    }
    expect([...coolDowns]).toEqual([10]);
    for (let i = 0; i < 3; i++) expect(breaker.allowRequest()).toBe(true);
    for (let i = 0; i < 3; i++) breaker.recordSuccess();
    expect(breaker.state).toBe('closed');
    breaker.recordFailure(Code.Unavailable);
    expect(breaker.stats().openUntil - clock.t).toBe(1);
  });
});

describe('createCircuitBreaker: a clock that goes backwards', () => {
  it('an open breaker whose clock went back an hour waits one cool-down from then, not the hour too', () => {
    const { breaker, clock, fail } = setup({ coolDownMs: 5_000 });
    for (let i = 0; i < 5; i++) fail();
    expect(breaker.state).toBe('open');
    clock.t -= 3_600_000;
    expect(breaker.allowRequest()).toBe(false);
    clock.t += 4_999;
    expect(breaker.state).toBe('open');
    clock.t += 1;
    expect(breaker.state).toBe('half-open');
  });

  it('the failure rate keeps sliding after the clock went back an hour (old failures leave the window)', () => {
    const { breaker, clock, fail, succeed } = setup({
      consecutiveFailures: Number.POSITIVE_INFINITY,
      minimumCalls: 10,
      failureRateThreshold: 0.5,
      windowMs: 10_000,
    });
    for (let i = 0; i < 4; i++) fail();
    for (let i = 0; i < 5; i++) succeed();
    clock.t -= 3_600_000;
    succeed(); // calls go on after the step
    clock.t += 10_000; // a whole window later on the new clock
    expect(breaker.stats()).toMatchObject({ windowCalls: 0, windowFailures: 0 });
  });
});

describe('createCircuitBreaker: options that would keep it from closing', () => {
  it('refuses successesToClose Infinity, also as the default from halfOpenMaxProbes: Infinity', () => {
    for (const options of [
      { successesToClose: Number.POSITIVE_INFINITY },
      { halfOpenMaxProbes: Number.POSITIVE_INFINITY },
    ]) {
      expect(() => createCircuitBreaker(options), JSON.stringify(options)).toThrow(
        expect.objectContaining({
          code: Code.InvalidArgument,
          message: expect.stringContaining('successesToClose must be finite'),
        }),
      );
    }
  });

  it('halfOpenMaxProbes: Infinity with a finite successesToClose admits every probe and closes', () => {
    const { breaker, fail, succeed, clock } = setup({
      halfOpenMaxProbes: Number.POSITIVE_INFINITY,
      successesToClose: 3,
      coolDownMs: 1_000,
    });
    for (let i = 0; i < 5; i++) fail();
    clock.t += 1_000;
    for (let i = 0; i < 100; i++) expect(breaker.allowRequest()).toBe(true);
    for (let i = 0; i < 2; i++) breaker.recordSuccess();
    expect(breaker.state).toBe('half-open');
    succeed();
    expect(breaker.state).toBe('closed');
  });
});
