import type { ServiceInstance, WatchListener } from '@mini-rpc/protocol';

/**
 * Calls a watch listener. A listener that throws does not end the watch: the error goes to `onError`, or,
 * without one, is rethrown on a fresh microtask (an uncaught exception, like a throwing event listener).
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
    if (onError) onError(err);
    else
      queueMicrotask(() => {
        throw err;
      });
  }
}
