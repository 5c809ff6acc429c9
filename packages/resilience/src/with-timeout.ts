import { Code, RpcError } from '@mini-rpc/protocol';
import { abortError } from './abort-error.js';
import { assertMs } from './validate.js';

/** Options for {@link withTimeout}. */
export interface WithTimeoutOptions {
  /** An outer signal (the caller's cancellation or deadline); when it aborts, so does the call. */
  readonly signal?: AbortSignal;
}

// setTimeout fires after 1 ms when given more than 2^31-1 ms; such a long timeout is no timeout.
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Runs `fn` with a signal that aborts after `ms` milliseconds or when `options.signal` aborts, and settles
 * as soon as either happens, even if `fn` ignores its signal.
 *
 * The signal's `reason` is the RpcError the returned promise rejects with, so `signal.throwIfAborted()`
 * inside `fn` throws the right code. `ms` may be `Infinity` (no timeout). Errors that `fn` throws pass
 * through unchanged. Built on an `AbortController` and one `setTimeout` rather than `AbortSignal.timeout`,
 * whose timer fake timers cannot drive and which cannot be cleared when `fn` finishes early.
 *
 * @throws RpcError(DeadlineExceeded) (rejects) when `ms` passes first, or at once when `ms` is 0.
 * @throws RpcError(Cancelled) (rejects) when the outer signal aborts; its reason is kept when it is an
 *   RpcError, and a `TimeoutError` reason gives DeadlineExceeded.
 * @throws RpcError(InvalidArgument) (rejects) when `ms` is negative or NaN.
 * @example
 * ```ts
 * const user = await withTimeout((signal) => fetchUser(id, { signal }), 500);
 * ```
 */
export function withTimeout<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  ms: number,
  options: WithTimeoutOptions = {},
): Promise<T> {
  const outer = options.signal;
  try {
    assertMs(ms, 'ms');
  } catch (error) {
    return Promise.reject(error);
  }
  if (outer?.aborted) return Promise.reject(abortError(outer.reason));
  if (ms === 0) return Promise.reject(timeoutError(ms));
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let done = false;
    const cleanup = (): void => {
      if (done) return;
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      outer?.removeEventListener('abort', onOuterAbort);
    };
    const stop = (error: RpcError): void => {
      cleanup();
      controller.abort(error);
      reject(error);
    };
    const onOuterAbort = (): void => stop(abortError(outer?.reason));
    if (ms <= MAX_TIMER_MS) timer = setTimeout(() => stop(timeoutError(ms)), ms);
    outer?.addEventListener('abort', onOuterAbort, { once: true });
    let pending: Promise<T>;
    try {
      pending = fn(controller.signal);
    } catch (error) {
      cleanup();
      reject(error);
      return;
    }
    Promise.resolve(pending).then(
      (value) => {
        cleanup();
        resolve(value);
      },
      (error: unknown) => {
        cleanup();
        reject(error);
      },
    );
  });
}

function timeoutError(ms: number): RpcError {
  return new RpcError(Code.DeadlineExceeded, `timed out after ${ms} ms`);
}
