import type { Codec } from '@mini-rpc/codec';
import type { Metadata } from '@mini-rpc/protocol';

/** Per-call options; each overrides the client's default. */
export interface CallOptions {
  /**
   * Give up after this long, ms (the server learns the remaining time); this covers waiting for a connect,
   * a bulkhead slot or the first instance list too. Default: the client's `timeoutMs`. `Infinity` for no
   * deadline; NaN fails the call with InvalidArgument, a negative value (a budget already spent) with
   * DeadlineExceeded.
   */
  timeoutMs?: number;
  /** Absolute deadline (ms since epoch); the earlier of this and `timeoutMs` wins. */
  deadline?: number;
  /** Extra metadata (auth tokens, trace context). Keys must not start with `:` and have at most 65,535 UTF-8 bytes. */
  metadata?: Metadata;
  /** Aborting settles the call with Cancelled and sends a Cancel frame to the server. */
  signal?: AbortSignal;
  /** Codec for this call. */
  codec?: Codec;
  /** The call may safely run more than once, so it may be retried after a connection loss. */
  idempotent?: boolean;
}
