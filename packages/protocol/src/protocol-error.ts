import { Code } from './code.js';
import { RpcError } from './rpc-error.js';

/**
 * What was wrong with a byte stream. Stable strings: safe to match on, log and count.
 * docs/protocol.md §6 says what a receiver does for each.
 */
export type ProtocolErrorKind =
  | 'bad_magic'
  | 'bad_version'
  | 'bad_type'
  | 'bad_codec'
  | 'bad_request_id'
  | 'payload_too_large'
  | 'metadata_too_large'
  | 'metadata_overrun'
  | 'bad_utf8'
  | 'truncated';

/**
 * A malformed or over-limit frame. The connection that carried it cannot be trusted any more: the receiver
 * tells the peer (GoAway with this code and message) and closes that one connection.
 * Over-limit frames carry `ResourceExhausted`, malformed ones `InvalidArgument`.
 */
export class ProtocolError extends RpcError {
  readonly kind: ProtocolErrorKind;

  constructor(kind: ProtocolErrorKind, message: string) {
    const tooLarge = kind === 'payload_too_large' || kind === 'metadata_too_large';
    super(tooLarge ? Code.ResourceExhausted : Code.InvalidArgument, `protocol error (${kind}): ${message}`);
    this.name = 'ProtocolError';
    this.kind = kind;
  }
}

/** True when `value` is a {@link ProtocolError} (from any copy of this package). */
export function isProtocolError(value: unknown): value is ProtocolError {
  return value instanceof RpcError && typeof (value as { kind?: unknown }).kind === 'string';
}
