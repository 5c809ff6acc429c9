/** Receives an error thrown by a state-change listener. */
export type ListenerErrorHandler = (error: unknown) => void;

/**
 * Hands an error a listener threw to `onListenerError`, or drops it when there is none. Listeners run
 * inside `recordFailure`, `allowRequest`, `state` and the group's sweep interval, so an error escaping
 * here would fail an unrelated call or, from the interval, crash the process. A throwing handler is
 * dropped too. Internal: only the handler type is exported.
 */
export function reportListenerError(onListenerError: ListenerErrorHandler | undefined, error: unknown): void {
  if (onListenerError === undefined) return;
  try {
    onListenerError(error);
  } catch {
    // Nowhere left to report to that cannot break the caller.
  }
}
