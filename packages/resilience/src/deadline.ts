/**
 * The absolute deadline `ms` milliseconds from now, on the `Date.now()` clock that `CallRequest.deadline`
 * uses. `Infinity` gives `Infinity` (no deadline).
 *
 * @example
 * ```ts
 * const deadline = deadlineFrom(2_000);
 * await retry(() => call(), policy, { deadline });
 * ```
 */
export function deadlineFrom(ms: number): number {
  return Date.now() + ms;
}

/**
 * Milliseconds left until `deadline` (an absolute `Date.now()` time), never below 0; `Infinity` when there
 * is no deadline (`undefined` or `Infinity`). A NaN deadline (e.g. `deadlineFrom(NaN)`) has 0 left: it
 * is no deadline one can wait for, and a NaN would pass every `delay >= remainingMs` check.
 */
export function remaining(deadline: number | undefined): number {
  if (deadline === undefined || deadline === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  const left = deadline - Date.now();
  return Number.isNaN(left) ? 0 : Math.max(left, 0);
}
