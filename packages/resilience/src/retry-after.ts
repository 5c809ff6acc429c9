import type { RpcError } from '@mini-rpc/protocol';
import { MetadataKey } from '@mini-rpc/protocol';

// Internal: read by the retry policy, not exported from the package.

/** The longest hint taken at its word: 2^31 − 1 ms (~24.8 days), the longest wait a timer can make. */
const MAX_HINT_MS = 2_147_483_647;
/** Up to ten decimal digits (docs/protocol.md §4: whole milliseconds, decimal), nothing else. */
const HINT = /^[0-9]{1,10}$/;

/**
 * The milliseconds the server asked to wait before a retry (`MetadataKey.RetryAfter`, `':r'`, which the
 * rate-limit middleware sets to the time until its bucket has a token), or `undefined` when `error` has
 * none or a malformed one. Malformed is anything but 1-10 decimal digits (a sign, a space, an exponent,
 * `NaN`, a value that is not a string) or a value over 2^31 − 1 ms: no token bucket answers that, so it
 * says nothing about when to come back and the policy's own backoff applies.
 */
export function retryAfterMs(error: RpcError): number | undefined {
  const raw: unknown = error.metadata[MetadataKey.RetryAfter];
  if (typeof raw !== 'string' || !HINT.test(raw)) return undefined;
  const ms = Number(raw);
  return ms <= MAX_HINT_MS ? ms : undefined;
}
