import type { RetryPolicy } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { abortError } from './abort-error.js';
import { remaining } from './deadline.js';
import { invalid } from './validate.js';

// setTimeout runs a callback due in more than 2^31-1 ms after 1 ms: a longer wait is capped to this.
const MAX_TIMER_MS = 2_147_483_647;

/** Options for {@link retry}. */
export interface RetryOptions {
  /** Stops retrying (and any backoff wait) when it aborts. */
  readonly signal?: AbortSignal;
  /** Absolute deadline (`Date.now()` clock); the policy gets the time left before it. */
  readonly deadline?: number;
}

/**
 * Calls `fn` until it succeeds or `policy` gives up, waiting the policy's delay between attempts; works
 * with any async function and any `RetryPolicy` (e.g. {@link createRetryPolicy}).
 *
 * `fn` gets the attempt number (0 for the first call). What `fn` throws is turned into an RpcError only
 * to ask the policy (`RpcError.from`: a plain Error counts as Unknown, which the default policy does not
 * retry); the error that ends the loop is rethrown exactly as `fn` threw it. The policy gives up with a
 * negative or NaN delay; a delay that would end at or after `deadline` gives up too, at once, so no wait
 * outlasts the deadline (waits over 2^31-1 ms, the timer limit, are cut to it). `retry` does not bound one
 * attempt: wrap it, or each attempt, in {@link withTimeout} for that. Only use it for work that is safe
 * to repeat (docs/resilience.md).
 *
 * @throws the last error of `fn` when the policy gives up, or an error `fn` threw after `signal` aborted.
 * @throws RpcError(InvalidArgument) when `deadline` is NaN.
 * @throws RpcError(DeadlineExceeded) when `deadline` has passed before an attempt starts.
 * @throws RpcError(Cancelled) (or the signal's RpcError reason) when `signal` aborts between attempts.
 * @example
 * ```ts
 * const policy = createRetryPolicy();
 * const value = await retry(() => callSomething(), policy, { signal, deadline: deadlineFrom(2_000) });
 * ```
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  options: RetryOptions = {},
): Promise<T> {
  const { signal, deadline } = options;
  if (Number.isNaN(deadline)) invalid('deadline', 'a Date.now() time (or undefined)', deadline);
  policy.onCall();
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw abortError(signal.reason);
    if (remaining(deadline) <= 0) {
      throw new RpcError(Code.DeadlineExceeded, `deadline exceeded before attempt ${attempt + 1}`);
    }
    try {
      return await fn(attempt);
    } catch (thrown) {
      if (signal?.aborted) throw thrown;
      const error = RpcError.from(thrown);
      const remainingMs = remaining(deadline);
      const delay = policy.nextDelay({ attempt: attempt + 1, error, remainingMs });
      // As the client does: NaN is "give up" too (it used to retry at once, in a loop with no wait), and
      // a wait that ends at or past the deadline gives up now rather than failing only after it.
      if (!(delay >= 0) || delay >= remainingMs) throw thrown;
      if (delay > 0) await sleep(Math.min(delay, MAX_TIMER_MS), signal);
    }
  }
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
