/** Receives an error thrown by a state-change listener. */
export type ListenerErrorHandler = (error: unknown) => void;

/**
 * Hands an error a listener threw to `onListenerError`, or, when there is none, reports it as a process
 * warning (see {@link emitListenerWarning}); never throws. Listeners run inside `recordFailure`,
 * `allowRequest`, `state` and the group's sweep interval, so an error escaping here would fail an
 * unrelated call or, from the interval, crash the process. An error a throwing handler throws is reported
 * as a warning too. Internal: only the handler type is exported.
 */
export function reportListenerError(onListenerError: ListenerErrorHandler | undefined, error: unknown): void {
  if (onListenerError === undefined) {
    emitListenerWarning('a stateChange listener', error);
    return;
  }
  try {
    onListenerError(error);
  } catch (handlerError) {
    emitListenerWarning('onListenerError', handlerError);
  }
}

/**
 * Emits `error`, thrown by `thrower`, as a `MiniRpcListenerWarning` process warning with the error as its
 * `cause` (the shape the client uses for its own listeners), so a listener bug shows on stderr instead of
 * vanishing. Outside Node (no `process.emitWarning`) it goes to `console.warn`. Never throws.
 */
function emitListenerWarning(thrower: string, error: unknown): void {
  try {
    const message = error instanceof Error ? error.message : String(error);
    const warning = new Error(`mini-rpc resilience: ${thrower} threw: ${message}`, { cause: error });
    warning.name = 'MiniRpcListenerWarning';
    // A runtime-neutral package: `process` may not exist (browsers, workers).
    const emitWarning = typeof process === 'undefined' ? undefined : process.emitWarning;
    if (typeof emitWarning === 'function') process.emitWarning(warning);
    else console.warn(warning);
  } catch {
    // A patched emitWarning or an unprintable error: nowhere left to report that cannot break the caller.
  }
}
