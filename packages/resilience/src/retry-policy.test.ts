import type { RetryAttempt } from '@mini-rpc/protocol';
import { Code, MetadataKey, RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { createRetryBudget, createRetryPolicy, type RetryPolicyOptions } from './index.js';

const unavailable = new RpcError(Code.Unavailable, 'down');
const attemptOf = (attempt: number, remainingMs = Number.POSITIVE_INFINITY): RetryAttempt => ({
  attempt,
  error: unavailable,
  remainingMs,
});

/** Delays the policy gives for attempts 1..n (a fresh budget-free policy per test). */
function delays(options: RetryPolicyOptions, n: number): number[] {
  const policy = createRetryPolicy({ budget: false, ...options });
  return Array.from({ length: n }, (_, i) => policy.nextDelay(attemptOf(i + 1)));
}

describe('createRetryPolicy: backoff', () => {
  it('grows exponentially from initialDelayMs and is capped at maxDelayMs', () => {
    expect(delays({ jitter: 'none', maxRetries: 8 }, 8)).toEqual([25, 50, 100, 200, 400, 800, 1000, 1000]);
    expect(
      delays({ jitter: 'none', maxRetries: 4, initialDelayMs: 10, factor: 3, maxDelayMs: 200 }, 4),
    ).toEqual([10, 30, 90, 200]);
  });

  it('gives up after maxRetries (default 2)', () => {
    expect(delays({ jitter: 'none' }, 4)).toEqual([25, 50, -1, -1]);
    expect(delays({ jitter: 'none', maxRetries: 0 }, 1)).toEqual([-1]);
  });

  it('full jitter stays in [0, backoff) and equal jitter in [backoff/2, backoff)', () => {
    for (const r of [0, 0.25, 0.5, 0.999_999]) {
      const full = delays({ jitter: 'full', maxRetries: 8, random: () => r }, 8);
      const equal = delays({ jitter: 'equal', maxRetries: 8, random: () => r }, 8);
      const backoff = delays({ jitter: 'none', maxRetries: 8 }, 8);
      for (let i = 0; i < 8; i++) {
        const b = backoff[i]!;
        expect(full[i]).toBeCloseTo(r * b, 9);
        expect(full[i]).toBeGreaterThanOrEqual(0);
        expect(full[i]).toBeLessThan(b);
        expect(equal[i]).toBeGreaterThanOrEqual(b / 2);
        expect(equal[i]).toBeLessThan(b);
      }
    }
  });

  it('full jitter is the default and uses Math.random within bounds', () => {
    const policy = createRetryPolicy({ budget: false, maxRetries: 1_000, maxDelayMs: 1_000 });
    for (let i = 1; i <= 1_000; i++) {
      const d = policy.nextDelay(attemptOf(i));
      const cap = Math.min(1_000, 25 * 2 ** (i - 1));
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(cap);
    }
  });
});

describe('createRetryPolicy: backoff at high attempts', () => {
  it('never gives a NaN delay once factor^attempt overflows to Infinity', () => {
    const at = (options: RetryPolicyOptions, attempt: number, remainingMs = Number.POSITIVE_INFINITY) =>
      createRetryPolicy({ budget: false, maxRetries: Number.POSITIVE_INFINITY, ...options }).nextDelay(
        attemptOf(attempt, remainingMs),
      );
    // initialDelayMs 0: 0 × Infinity was NaN, which the client takes for "give up" and retry() for "now".
    expect(at({ initialDelayMs: 0, jitter: 'none' }, 1_100)).toBe(0);
    expect(at({ initialDelayMs: 0, factor: Number.POSITIVE_INFINITY }, 2)).toBe(0);
    // Capped: the cap, whatever the attempt.
    expect(at({ jitter: 'none' }, 5_000)).toBe(1_000);
    expect(at({ jitter: 'none', factor: Number.POSITIVE_INFINITY }, 3)).toBe(1_000);
    // No cap: a wait that never ends is no retry (full jitter drew 0 × Infinity = NaN).
    expect(at({ maxDelayMs: Number.POSITIVE_INFINITY, random: () => 0 }, 1_100)).toBe(-1);
  });
});

describe('createRetryPolicy: when not to retry', () => {
  it('retries only the codes retryOn accepts (default isRetryable)', () => {
    const policy = createRetryPolicy({ budget: false, jitter: 'none' });
    const withCode = (code: Code): number =>
      policy.nextDelay({ ...attemptOf(1), error: new RpcError(code, 'x') });
    expect(withCode(Code.Unavailable)).toBe(25);
    expect(withCode(Code.ResourceExhausted)).toBe(25);
    expect(withCode(Code.Aborted)).toBe(25);
    for (const code of [
      Code.InvalidArgument,
      Code.NotFound,
      Code.Internal,
      Code.DeadlineExceeded,
      Code.Unknown,
    ]) {
      expect(withCode(code)).toBe(-1);
    }
    const custom = createRetryPolicy({ budget: false, jitter: 'none', retryOn: (c) => c === Code.Internal });
    expect(custom.nextDelay({ ...attemptOf(1), error: new RpcError(Code.Internal, 'x') })).toBe(25);
    expect(custom.nextDelay(attemptOf(1))).toBe(-1);
  });

  it('gives up when the delay would not leave time before the deadline', () => {
    const policy = createRetryPolicy({ budget: false, jitter: 'none' });
    expect(policy.nextDelay(attemptOf(1, 26))).toBe(25);
    expect(policy.nextDelay(attemptOf(1, 25))).toBe(-1);
    expect(policy.nextDelay(attemptOf(2, 50))).toBe(-1);
    expect(policy.nextDelay(attemptOf(1, 0))).toBe(-1);
  });

  it('gives up when the time left is NaN (a broken deadline), instead of retrying without one', () => {
    const policy = createRetryPolicy({ budget: false, jitter: 'none' });
    expect(policy.nextDelay(attemptOf(1, Number.NaN))).toBe(-1);
    expect(policy.nextDelay(attemptOf(1, Number.POSITIVE_INFINITY))).toBe(25);
  });

  it('keeps minAttemptMs free for the attempt itself', () => {
    const policy = createRetryPolicy({ budget: false, jitter: 'none', minAttemptMs: 100 });
    expect(policy.nextDelay(attemptOf(1, 126))).toBe(25);
    expect(policy.nextDelay(attemptOf(1, 125))).toBe(-1);
  });

  it('gives up when the budget is spent, and does not spend it on refused retries', () => {
    let t = 0;
    const budget = createRetryBudget({ ratio: 0, minRetriesPerSecond: 1, windowMs: 2_000, now: () => t });
    const policy = createRetryPolicy({ budget, jitter: 'none', maxRetries: 10 });
    expect(policy.budget).toBe(budget);
    expect(policy.nextDelay(attemptOf(11))).toBe(-1); // over maxRetries: budget untouched
    expect(policy.nextDelay(attemptOf(1, 1))).toBe(-1); // no time left: budget untouched
    expect(budget.available).toBe(2);
    expect(policy.nextDelay(attemptOf(1))).toBe(25);
    expect(policy.nextDelay(attemptOf(1))).toBe(25);
    expect(policy.nextDelay(attemptOf(1))).toBe(-1);
    t += 2_000;
    expect(policy.nextDelay(attemptOf(1))).toBe(25);
  });

  it('onCall feeds the budget; budget: false means no budget', () => {
    const budget = createRetryBudget({ ratio: 0.5, minRetriesPerSecond: 0, now: () => 0 });
    const policy = createRetryPolicy({ budget });
    expect(budget.available).toBe(0);
    policy.onCall();
    policy.onCall();
    expect(budget.available).toBe(1);
    const unbudgeted = createRetryPolicy({ budget: false, maxRetries: 5 });
    expect(unbudgeted.budget).toBeUndefined();
    for (let i = 0; i < 1_000; i++) expect(unbudgeted.nextDelay(attemptOf(1))).toBeGreaterThanOrEqual(0);
  });

  it('has its own default budget', () => {
    const policy = createRetryPolicy();
    expect(policy.budget?.available).toBe(100);
  });

  it('rejects bad options with InvalidArgument', () => {
    const bad: RetryPolicyOptions[] = [
      { maxRetries: -1 },
      { maxRetries: 1.5 },
      { initialDelayMs: -1 },
      { initialDelayMs: 100, maxDelayMs: 50 },
      { factor: 0.5 },
      { minAttemptMs: -1 },
      { jitter: 'lots' as 'full' },
    ];
    for (const options of bad) {
      expect(() => createRetryPolicy(options), JSON.stringify(options)).toThrow(
        expect.objectContaining({ code: Code.InvalidArgument }),
      );
    }
  });
});

describe("createRetryPolicy: the server's retry-after hint (':r')", () => {
  /** A refusal of the server's rate limit: ResourceExhausted, `:r` = ms until its bucket has a token. */
  const limited = (hint: unknown, code: Code = Code.ResourceExhausted): RpcError =>
    new RpcError(code, 'rate limit exceeded', { metadata: { [MetadataKey.RetryAfter]: hint as string } });
  const after = (
    hint: unknown,
    options: RetryPolicyOptions = {},
    attempt = 1,
    remainingMs = Number.POSITIVE_INFINITY,
  ): number =>
    createRetryPolicy({ budget: false, jitter: 'none', ...options }).nextDelay({
      attempt,
      error: limited(hint),
      remainingMs,
    });

  it('waits at least the hint: the larger of the hint and the (jittered) backoff', () => {
    expect(after('300')).toBe(300);
    expect(after('10')).toBe(25); // the backoff is longer
    expect(after('0')).toBe(25);
    expect(after('300', { jitter: 'full', random: () => 0.5 })).toBe(300);
    expect(after('60', { maxRetries: 5 }, 3)).toBe(100);
    expect(
      createRetryPolicy({ budget: false, jitter: 'none' }).nextDelay({
        ...attemptOf(1),
        error: limited('300', Code.Unavailable), // docs/protocol.md: Unavailable may carry one too
      }),
    ).toBe(300);
  });

  it('gives up at once when the hint leaves no time before the deadline, without spending the budget', () => {
    expect(after('300', {}, 1, 301)).toBe(300);
    expect(after('300', {}, 1, 300)).toBe(-1);
    expect(after('5000', {}, 1, 1_000)).toBe(-1);
    expect(after('300', { minAttemptMs: 50 }, 1, 340)).toBe(-1);
    const budget = createRetryBudget({ ratio: 0, minRetriesPerSecond: 1, windowMs: 1_000, now: () => 0 });
    const policy = createRetryPolicy({ budget, jitter: 'none' });
    expect(policy.nextDelay({ attempt: 1, error: limited('5000'), remainingMs: 1_000 })).toBe(-1);
    expect(budget.available).toBe(1);
  });

  it('gives up at once when the hint is longer than maxDelayMs (an earlier retry is a certain refusal), without spending the budget', () => {
    expect(after('1000')).toBe(1_000);
    expect(after('1001')).toBe(-1);
    expect(after('150', { maxDelayMs: 100 })).toBe(-1);
    expect(after('50000', { maxDelayMs: Number.POSITIVE_INFINITY })).toBe(50_000);
    const budget = createRetryBudget({ ratio: 0, minRetriesPerSecond: 1, windowMs: 1_000, now: () => 0 });
    const policy = createRetryPolicy({ budget, jitter: 'none' });
    expect(policy.nextDelay({ ...attemptOf(1), error: limited('2000') })).toBe(-1);
    expect(budget.available).toBe(1);
  });

  it('ignores a malformed hint (not 1-10 decimal digits, over 2^31 − 1 ms, not a string): the backoff alone', () => {
    const huge = ['99999999999999999999', String(2 ** 31), '2147483648'];
    const malformed = ['', 'abc', '-5', '1e3', ' 14', '14 ', '1.5', 'NaN', 'Infinity', '0x10', '+5', '١٢'];
    for (const hint of [...malformed, ...huge, 300, null, undefined]) {
      expect(after(hint, { maxDelayMs: Number.POSITIVE_INFINITY }), String(hint)).toBe(25);
    }
    expect(after(String(2 ** 31 - 1), { maxDelayMs: Number.POSITIVE_INFINITY })).toBe(2 ** 31 - 1);
  });

  it('never makes a retry of its own: a code retryOn refuses, or an attempt past maxRetries, still gives up', () => {
    const policy = createRetryPolicy({ budget: false, jitter: 'none' });
    expect(policy.nextDelay({ ...attemptOf(1), error: limited('300', Code.Internal) })).toBe(-1);
    expect(policy.nextDelay({ ...attemptOf(3), error: limited('300') })).toBe(-1);
  });
});
