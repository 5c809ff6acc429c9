/**
 * Status codes of a call, numbered as in gRPC so that operators and other languages read them the same way.
 *
 * @example
 * ```ts
 * if (err.code === Code.Unavailable) failover();
 * ```
 */
export const Code = {
  OK: 0,
  Cancelled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  AlreadyExists: 6,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  FailedPrecondition: 9,
  Aborted: 10,
  OutOfRange: 11,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  DataLoss: 15,
  Unauthenticated: 16,
} as const;

/** One of the values of {@link Code}. */
export type Code = (typeof Code)[keyof typeof Code];

const NAMES: readonly string[] = Object.keys(Code);

/** True when `value` is a number that names a status code. */
export function isCode(value: unknown): value is Code {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < NAMES.length;
}

/** The name of a code, e.g. `codeName(14) === 'Unavailable'`; unknown numbers give `'Code(<n>)'`. */
export function codeName(code: number): string {
  return NAMES[code] ?? `Code(${code})`;
}

/**
 * True for codes that describe a transient condition of the server or the network, where the same call may
 * succeed later or elsewhere. Whether a retry is *safe* also depends on whether the request ran
 * (see docs/resilience.md); this only says whether the failure itself is transient.
 */
export function isRetryable(code: number): boolean {
  return code === Code.Unavailable || code === Code.ResourceExhausted || code === Code.Aborted;
}

/**
 * True for codes that say the caller sent something wrong. They describe the request, not the instance,
 * so they never count against an instance's health (circuit breakers ignore them).
 */
export function isCallerError(code: number): boolean {
  return (
    code === Code.InvalidArgument ||
    code === Code.NotFound ||
    code === Code.Unauthenticated ||
    code === Code.PermissionDenied ||
    code === Code.FailedPrecondition ||
    code === Code.OutOfRange ||
    code === Code.AlreadyExists ||
    code === Code.Unimplemented ||
    code === Code.Cancelled
  );
}
