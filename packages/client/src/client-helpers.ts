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

/** Waits `ms`, or rejects with the abort reason when `signal` aborts first. */
export const sleep = (ms: number, signal: AbortSignal | undefined): Promise<void> =>
  new Promise((resolve, reject) => {
    if (ms <= 0) return resolve();
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(RpcError.from(signal?.reason, Code.Cancelled));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
