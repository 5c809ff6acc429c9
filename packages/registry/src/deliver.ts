import type { ServiceInstance, WatchListener } from '@mini-rpc/protocol';

/**
 * Calls a watch listener. A listener that throws does not end the watch: the error goes to `onError`, or,
 * without one, is rethrown on a fresh microtask (an uncaught exception, like a throwing event listener).
 * An `onError` that throws is rethrown the same way: never into the registry's own code, where the etcd
 * watch took it for an etcd failure and listed and watched again.
 */
export function deliver(
  listener: WatchListener,
  instances: readonly ServiceInstance[],
  onError: ((error: Error) => void) | undefined,
): void {
  try {
    listener(instances);
  } catch (error) {
    const err = error instanceof Error ? error : new Error(String(error));
    try {
      if (!onError) throw err;
      onError(err);
    } catch (uncaught) {
      queueMicrotask(() => {
        throw uncaught;
      });
    }
  }
}
