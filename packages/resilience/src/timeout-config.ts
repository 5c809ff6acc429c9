import { assertMs } from './validate.js';

/**
 * The timeouts of a client, in milliseconds. `Infinity` switches one off.
 *
 * Each one bounds a different wait, so that no wait is unbounded ("no call waits forever", docs/resilience.md §5):
 * - `connectMs`: opening a connection (TCP + TLS handshake). The client marks the instance Unavailable.
 * - `readMs`: silence on a connection that has calls in flight (no byte, not even a heartbeat) before the
 *   connection is declared dead and its calls fail with Unavailable.
 * - `writeMs`: how long a write may stay blocked on backpressure (no `drain`) before the connection is
 *   declared stuck.
 * - `callMs`: the deadline of a call whose caller gave none; it fails with DeadlineExceeded.
 */
export interface TimeoutConfig {
  readonly connectMs: number;
  readonly readMs: number;
  readonly writeMs: number;
  readonly callMs: number;
}

/**
 * The default {@link TimeoutConfig}: connect 3 s, read 15 s, write 15 s, call 30 s — the defaults of
 * `@mini-rpc/client` and `@mini-rpc/transport`, so that one set of numbers describes a mini-rpc client.
 *
 * Why: 3 s lets a lost SYN be sent again once (Linux retransmits after 1 s, then 3 s later) and then fails
 * over to another instance; 15 s of silence is three missed heartbeats (every 5 s); 15 s of blocked writes
 * means the peer stopped reading; 30 s per call keeps a forgotten deadline from holding resources forever
 * while being far above any healthy call. See docs/resilience.md.
 */
export const DEFAULT_TIMEOUTS: TimeoutConfig = Object.freeze({
  connectMs: 3_000,
  readMs: 15_000,
  writeMs: 15_000,
  callMs: 30_000,
});

/**
 * Fills the missing fields of `partial` from {@link DEFAULT_TIMEOUTS}.
 *
 * @throws RpcError(InvalidArgument) when a value is negative or not a number.
 * @example
 * ```ts
 * const timeouts = resolveTimeouts({ callMs: 2_000 }); // connect/read/write keep their defaults
 * ```
 */
export function resolveTimeouts(partial: Partial<TimeoutConfig> = {}): TimeoutConfig {
  const resolved: TimeoutConfig = { ...DEFAULT_TIMEOUTS, ...partial };
  for (const key of ['connectMs', 'readMs', 'writeMs', 'callMs'] as const) {
    assertMs(resolved[key], key);
  }
  return resolved;
}
