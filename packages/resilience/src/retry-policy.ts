import type { Code, RetryAttempt, RetryPolicy } from '@mini-rpc/protocol';
import { isRetryable } from '@mini-rpc/protocol';
import { retryAfterMs } from './retry-after.js';
import { createRetryBudget, type RetryBudget } from './retry-budget.js';
import { assertCount, assertMs, assertRange, invalid } from './validate.js';

/** How a backoff delay is randomised; see {@link RetryPolicyOptions.jitter}. */
export type Jitter = 'full' | 'equal' | 'none';

/** Options for {@link createRetryPolicy}. */
export interface RetryPolicyOptions {
  /** Retries after the first attempt (so at most `maxRetries + 1` attempts). Default 2. */
  readonly maxRetries?: number;
  /** Backoff before the first retry, before jitter, in ms. Default 25. */
  readonly initialDelayMs?: number;
  /**
   * Cap on the backoff, before jitter, in ms, and the longest retry-after hint of a server (`':r'`) that is
   * waited: a longer one gives up at once. Default 1 000.
   */
  readonly maxDelayMs?: number;
  /** Growth of the backoff per retry. Default 2. */
  readonly factor?: number;
  /**
   * `'full'` (default): a uniform delay in [0, backoff) — spreads retries of many clients the most (AWS
   * "Exponential Backoff and Jitter"); `'equal'`: [backoff / 2, backoff); `'none'`: exactly the backoff.
   */
  readonly jitter?: Jitter;
  /** Which failures are worth another attempt. Default `isRetryable` (Unavailable, ResourceExhausted, Aborted). */
  readonly retryOn?: (code: Code) => boolean;
  /**
   * The retry budget: one shared by many policies, `false` for none. Default a budget of this policy's
   * own with the defaults of {@link createRetryBudget}.
   */
  readonly budget?: RetryBudget | false;
  /** Time an attempt needs at least, in ms: no retry starts with less left before the deadline. Default 0. */
  readonly minAttemptMs?: number;
  /** Source of randomness in [0, 1), for tests. Default `Math.random`. */
  readonly random?: () => number;
}

/** A {@link RetryPolicy} from {@link createRetryPolicy}, with the budget it draws from. */
export interface BackoffRetryPolicy extends RetryPolicy {
  /** The budget this policy draws from; `undefined` when it has none. */
  readonly budget: RetryBudget | undefined;
}

/**
 * Creates a retry policy with capped exponential backoff, jitter and a retry budget; it plugs into the
 * client (the `RetryPolicy` contract of `@mini-rpc/protocol`) and into {@link retry}.
 *
 * `nextDelay` gives up (returns -1) when `attempt > maxRetries`, when `retryOn(code)` is false, when the
 * delay plus `minAttemptMs` would not leave time before the deadline, or when the budget is spent — in
 * that order, so a refused retry never takes from the budget. Otherwise it returns
 * `min(maxDelayMs, initialDelayMs × factor^(attempt-1))` randomised by `jitter`. Defaults: 2 retries,
 * 25 ms, ×2, capped at 1 s, full jitter, `isRetryable`, a budget of 10 % + 10 retries/s.
 *
 * A retry-after hint on the error (`MetadataKey.RetryAfter`, `':r'`: the ms until the server's rate limit
 * has a token) is honoured: the delay is at least the hint, not jittered below it. A hint over `maxDelayMs`
 * gives up (-1), as does one that leaves no time before the deadline: retrying earlier is a certain
 * refusal, and sleeping into the deadline a certain DeadlineExceeded. A malformed hint (not 1-10 decimal
 * digits, or over 2^31 − 1 ms) is ignored. The hint is one server's: the client shows it to the policy only
 * when the retry can go nowhere else (docs/resilience.md §2).
 *
 * @throws RpcError(InvalidArgument) when an option is out of range.
 * @example
 * ```ts
 * const policy = createRetryPolicy({ maxRetries: 3, initialDelayMs: 50 });
 * const value = await retry(() => callSomething(), policy, { deadline: deadlineFrom(1_000) });
 * ```
 */
export function createRetryPolicy(options: RetryPolicyOptions = {}): BackoffRetryPolicy {
  return new ExponentialRetryPolicy(options);
}

class ExponentialRetryPolicy implements BackoffRetryPolicy {
  readonly budget: RetryBudget | undefined;
  private readonly maxRetries: number;
  private readonly initialDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly factor: number;
  private readonly jitter: Jitter;
  private readonly retryOn: (code: Code) => boolean;
  private readonly minAttemptMs: number;
  private readonly random: () => number;

  constructor(options: RetryPolicyOptions) {
    this.maxRetries = options.maxRetries ?? 2;
    this.initialDelayMs = options.initialDelayMs ?? 25;
    this.maxDelayMs = options.maxDelayMs ?? 1_000;
    this.factor = options.factor ?? 2;
    this.jitter = options.jitter ?? 'full';
    this.retryOn = options.retryOn ?? isRetryable;
    this.minAttemptMs = options.minAttemptMs ?? 0;
    this.random = options.random ?? Math.random;
    this.budget = options.budget === false ? undefined : (options.budget ?? createRetryBudget());
    assertCount(this.maxRetries, 'maxRetries');
    assertMs(this.initialDelayMs, 'initialDelayMs');
    assertRange(this.maxDelayMs, 'maxDelayMs', this.initialDelayMs, Number.POSITIVE_INFINITY);
    assertRange(this.factor, 'factor', 1, Number.POSITIVE_INFINITY);
    assertMs(this.minAttemptMs, 'minAttemptMs');
    if (this.jitter !== 'full' && this.jitter !== 'equal' && this.jitter !== 'none') {
      invalid('jitter', "'full', 'equal' or 'none'", this.jitter);
    }
  }

  onCall(): void {
    this.budget?.recordCall();
  }

  nextDelay(attempt: RetryAttempt): number {
    if (attempt.attempt > this.maxRetries || !this.retryOn(attempt.error.code)) return -1;
    let delay = this.delayFor(attempt.attempt);
    const hint = retryAfterMs(attempt.error);
    if (hint !== undefined) {
      // The server's bucket has no token before `hint`: an earlier retry is a certain refusal. One later
      // than this policy ever waits is no retry (the caller gets the error, hint included, at once).
      if (hint > this.maxDelayMs) return -1;
      if (hint > delay) delay = hint;
    }
    // Negated, so that a NaN remainingMs (a broken deadline) gives up rather than passing the check.
    if (!(delay + this.minAttemptMs < attempt.remainingMs)) return -1;
    if (this.budget !== undefined && !this.budget.tryRetry()) return -1;
    return delay;
  }

  private delayFor(attempt: number): number {
    // factor^(attempt-1) is Infinity from the 1,025th retry at ×2 (or the 2nd at factor Infinity), and
    // 0 × Infinity is NaN: a delay of 0 stays 0 (an Infinity beyond the cap is the cap).
    const grown = this.initialDelayMs === 0 ? 0 : this.initialDelayMs * this.factor ** (attempt - 1);
    const backoff = Math.min(grown, this.maxDelayMs);
    if (this.jitter === 'none' || backoff === Number.POSITIVE_INFINITY) return backoff;
    if (this.jitter === 'equal') return backoff / 2 + (this.random() * backoff) / 2;
    return this.random() * backoff;
  }
}
