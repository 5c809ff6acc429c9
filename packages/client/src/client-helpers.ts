import type { Balancer } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { atDeadline } from './wait-list.js';

/** A round-robin picker used when no balancer is given. */
export const defaultBalancer = (): Balancer => {
  let i = 0;
  return {
    name: 'round-robin',
    pick(instances) {
      const inst = instances[i++ % instances.length];
      if (inst === undefined) throw new RpcError(Code.Unavailable, 'no instance to call');
      return inst;
    },
  };
};

/**
 * Waits `ms`, or rejects with the abort reason when `signal` or `closing` (the client's, aborted by
 * `close()`) aborts first. A wait over 2^31 − 1 ms is waited in steps (`setTimeout` would end it after 1 ms).
 */
export const sleep = (ms: number, signal: AbortSignal | undefined, closing?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (!(ms > 0)) return resolve();
    let stopTimer: (() => void) | undefined;
    const finish = (): void => {
      stopTimer?.();
      signal?.removeEventListener('abort', onAbort);
      closing?.removeEventListener('abort', onClose);
    };
    const onAbort = (): void => {
      finish();
      reject(RpcError.from(signal?.reason, Code.Cancelled));
    };
    const onClose = (): void => {
      finish();
      reject(RpcError.from(closing?.reason, Code.Cancelled));
    };
    // atDeadline never calls back before it returns, so the handlers above exist when it does.
    stopTimer = atDeadline(Date.now() + ms, () => {
      finish();
      resolve();
    });
    signal?.addEventListener('abort', onAbort, { once: true });
    closing?.addEventListener('abort', onClose, { once: true });
    if (signal?.aborted) onAbort();
    else if (closing?.aborted) onClose();
  });

/**
 * Reports an error thrown by a user's listener (a circuit breaker's `stateChange`, a balancer's
 * `onStart`/`onEnd`, a bulkhead's release) as a process warning: it must not replace the outcome of the
 * call that triggered it, nor skip the bookkeeping after it, and the client has no logger to tell.
 */
export const reportListenerError = (error: unknown): void => {
  let message: string;
  try {
    message = error instanceof Error ? error.message : String(error);
  } catch {
    message = Object.prototype.toString.call(error);
  }
  reportWarning(`a listener threw: ${message}`, 'MiniRpcListenerWarning', error);
};

/** Emits a process warning named `name`: `mini-rpc client: <message>`. */
export const reportWarning = (message: string, name: string, cause?: unknown): void => {
  const warning = new Error(`mini-rpc client: ${message}`, cause === undefined ? undefined : { cause });
  warning.name = name;
  process.emitWarning(warning);
};
