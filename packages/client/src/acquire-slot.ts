import type { Limiter } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { atDeadline } from './wait-list.js';

/**
 * A controller whose signal went to an `acquire` that returned a slot at once. The `Limiter` contract uses
 * the signal only while a call waits, so nothing listens to it and the next call hands it out again: a call
 * that gets its slot at once allocates no signal (issue #7). A controller given to a queued call is its own.
 */
let spare: AbortController | undefined;

/**
 * Takes a slot of `limiter` for one call. A call that has to queue leaves the queue at its `deadline`
 * (`Date.now()` clock; DeadlineExceeded), when `signal` aborts, or when `closing` (the client's) aborts,
 * whichever comes first (docs/resilience.md §4). `acquire` takes one signal, so a queued call gets one that
 * aborts at all three — and only a call still waiting a microtask after `acquire` gets a timer and
 * listeners: a limiter that grants at once, synchronously or through an already settled promise (an
 * `async acquire`), costs none. Throws and rejects like `limiter.acquire`.
 */
export function acquireSlot(
  limiter: Limiter,
  deadline: number | undefined,
  signal: AbortSignal | undefined,
  closing: AbortSignal,
): (() => void) | Promise<() => void> {
  // A call already cancelled: the limiter refuses it as it sees fit. A call without a deadline still gets a
  // signal of ours: close() must end its wait too (atDeadline arms no timer for an infinite deadline).
  if (signal?.aborted) return limiter.acquire(signal);
  const controller = spare ?? new AbortController();
  spare = undefined;
  let slot: (() => void) | Promise<() => void>;
  try {
    slot = limiter.acquire(controller.signal);
  } catch (err) {
    spare = controller;
    throw err;
  }
  if (typeof slot === 'function') {
    spare = controller;
    return slot;
  }
  let waiting = true;
  let stopTimer: (() => void) | undefined;
  const forward = (): void => controller.abort(signal?.reason);
  const close = (): void => controller.abort(closing.reason);
  const settle = (): void => {
    waiting = false;
    if (stopTimer === undefined) return;
    stopTimer();
    signal?.removeEventListener('abort', forward);
    closing.removeEventListener('abort', close);
  };
  const granted = slot.then(
    (release) => {
      settle();
      return release;
    },
    (err: unknown) => {
      settle();
      throw err;
    },
  );
  // A settled promise's reaction runs before this: only a call still queued arms its timer and listeners.
  queueMicrotask(() => {
    if (!waiting) return;
    stopTimer = atDeadline(deadline ?? Number.POSITIVE_INFINITY, () =>
      controller.abort(new RpcError(Code.DeadlineExceeded, 'deadline exceeded waiting for a bulkhead slot')),
    );
    signal?.addEventListener('abort', forward, { once: true });
    closing.addEventListener('abort', close, { once: true });
    if (signal?.aborted) forward();
    else if (closing.aborted) close();
  });
  return granted;
}
