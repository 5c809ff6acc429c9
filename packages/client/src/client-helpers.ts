import type { Balancer } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';

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
 * `close()`) aborts first.
 */
export const sleep = (ms: number, signal: AbortSignal | undefined, closing?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (ms <= 0) return resolve();
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      closing?.removeEventListener('abort', onClose);
      resolve();
    }, ms);
    const stop = (reason: unknown): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      closing?.removeEventListener('abort', onClose);
      reject(RpcError.from(reason, Code.Cancelled));
    };
    const onAbort = (): void => stop(signal?.reason);
    const onClose = (): void => stop(closing?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    closing?.addEventListener('abort', onClose, { once: true });
  });

/**
 * Reports an error thrown by a user's listener (a circuit breaker's `stateChange`) as a process warning:
 * it must not replace the outcome of the call that triggered it, and the client has no logger to tell.
 */
export const reportListenerError = (error: unknown): void => {
  const message = error instanceof Error ? error.message : String(error);
  const warning = new Error(`mini-rpc client: a listener threw: ${message}`, { cause: error });
  warning.name = 'MiniRpcListenerWarning';
  process.emitWarning(warning);
};
