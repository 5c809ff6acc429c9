import type { Code } from './code.js';
import type { RpcError } from './rpc-error.js';

/** The three states of a circuit breaker. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * A circuit breaker for one instance, as the client uses it. Implementation: `@mini-rpc/resilience`.
 * Each `allowRequest()` that returned true must be followed by exactly one `recordSuccess()` or
 * `recordFailure()`. A caller that can read `generation` right after an admitting `allowRequest()` should
 * pass it to that record call, so a result that arrives after the breaker changed state is ignored.
 */
export interface Breaker {
  readonly state: BreakerState;
  /**
   * Changes on every state change. Read it right after `allowRequest()` returned true (same synchronous
   * turn) and pass it back to `recordSuccess`/`recordFailure`. Optional: breakers without it ignore it.
   */
  readonly generation?: number;
  /** May a call go through now? In half-open this takes one of the bounded probe slots. */
  allowRequest(): boolean;
  /** Records a successful call; with `generation`, ignored unless the breaker is still in that generation. */
  recordSuccess(generation?: number): void;
  /**
   * Records a failed call; implementations ignore caller errors (see `isCallerError`) apart from freeing a
   * slot. With `generation`, ignored unless the breaker is still in that generation.
   */
  recordFailure(code: Code, generation?: number): void;
}

/** Makes (or returns the existing) breaker for an instance id. */
export type BreakerFactory = (instanceId: string) => Breaker;

/** What a retry policy is told about a failed attempt. */
export interface RetryAttempt {
  /** 1 for the first retry, 2 for the second, … */
  readonly attempt: number;
  readonly error: RpcError;
  /** Milliseconds left before the call's deadline; `Infinity` when it has none. */
  readonly remainingMs: number;
}

/**
 * Decides whether and when a failed call is tried again. The client asks only when a retry is *safe*
 * (the request was never sent, was refused before it ran, or the method is idempotent).
 * Implementation: `createRetryPolicy()` in `@mini-rpc/resilience`.
 */
export interface RetryPolicy {
  /** Called once per call (not per attempt); feeds the retry budget. */
  onCall(): void;
  /** Milliseconds to wait before the next attempt, or a negative number to give up. */
  nextDelay(attempt: RetryAttempt): number;
}

/**
 * Limits concurrent calls (a bulkhead). `acquire` returns a release function, or a promise of one when the
 * call has to queue; it throws RpcError(ResourceExhausted) when the queue is full.
 */
export interface Limiter {
  acquire(signal?: AbortSignal): (() => void) | Promise<() => void>;
}
