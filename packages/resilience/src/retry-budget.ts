import { RollingWindow } from './rolling-window.js';
import { assertRange } from './validate.js';

/** Options for {@link createRetryBudget}. */
export interface RetryBudgetOptions {
  /** Retries allowed per call made, over the window. Default 0.1 (10 % extra load at most). */
  readonly ratio?: number;
  /** Retries always allowed per second, whatever the traffic, so that quiet clients can retry. Default 10. */
  readonly minRetriesPerSecond?: number;
  /** How far back calls and retries count, in ms. Default 10 000. */
  readonly windowMs?: number;
  /** The clock, in ms. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * A limit on retries, shared by all the calls that use it: in any window, retries ≤ `ratio` × calls +
 * `minRetriesPerSecond` × window seconds. So an outage adds at most `ratio` to the load instead of
 * multiplying it by the number of attempts (no retry storm).
 */
export interface RetryBudget {
  /** Records one call (not one attempt); each call deposits `ratio` of a retry. */
  recordCall(): void;
  /** Takes one retry from the budget; false (and takes nothing) when the budget is spent. */
  tryRetry(): boolean;
  /** Whole retries the budget would allow right now. */
  readonly available: number;
}

// Balances are kept in millionths of a retry so that 0.1 + 0.1 + … adds up exactly. Thousandths rounded
// a ratio of 0.0015 to 0.002 (a third more retries than allowed) and one of 0.0004 to none.
const SCALE = 1_000_000;
const BUCKETS = 10;

/**
 * Creates a {@link RetryBudget}, the scheme of Finagle's `RetryBudget`: a token bucket whose deposits (one
 * `ratio` per call) and withdrawals (one per retry) expire after `windowMs`, on top of a reserve of
 * `minRetriesPerSecond × windowMs / 1000` retries. Chosen over gRPC's retry throttling (tokens that only
 * successes refill) because it reads as a plain rate ("10 % more calls, at most") and recovers by itself
 * as time passes, without needing successes to come first. Counts live in 10 buckets; no timer.
 *
 * Defaults: ratio 0.1, minRetriesPerSecond 10, windowMs 10 000 (so a reserve of 100 retries per 10 s).
 *
 * @throws RpcError(InvalidArgument) when an option is out of range.
 * @example
 * ```ts
 * const budget = createRetryBudget({ ratio: 0.2 });
 * const policy = createRetryPolicy({ budget }); // share one budget across policies of a client
 * ```
 */
export function createRetryBudget(options: RetryBudgetOptions = {}): RetryBudget {
  const ratio = options.ratio ?? 0.1;
  const minRetriesPerSecond = options.minRetriesPerSecond ?? 10;
  const windowMs = options.windowMs ?? 10_000;
  assertRange(ratio, 'ratio', 0, 1_000);
  assertRange(minRetriesPerSecond, 'minRetriesPerSecond', 0, Number.MAX_SAFE_INTEGER);
  assertRange(windowMs, 'windowMs', 1, 2 ** 31);
  return new WindowedRetryBudget(ratio, minRetriesPerSecond, windowMs, options.now ?? Date.now);
}

class WindowedRetryBudget implements RetryBudget {
  private readonly window: RollingWindow;
  private readonly deposit: number;
  private readonly reserve: number;

  constructor(
    ratio: number,
    minRetriesPerSecond: number,
    windowMs: number,
    private readonly now: () => number,
  ) {
    this.deposit = Math.round(ratio * SCALE);
    this.reserve = Math.floor(minRetriesPerSecond * (windowMs / 1000)) * SCALE;
    this.window = new RollingWindow(windowMs, BUCKETS, now());
  }

  recordCall(): void {
    this.window.add(this.now(), this.deposit, 0);
  }

  tryRetry(): boolean {
    const now = this.now();
    this.window.advance(now);
    if (this.balance() < SCALE) return false;
    this.window.add(now, 0, SCALE);
    return true;
  }

  get available(): number {
    this.window.advance(this.now());
    return Math.max(0, Math.floor(this.balance() / SCALE));
  }

  private balance(): number {
    return this.reserve + this.window.totalA - this.window.totalB;
  }
}
