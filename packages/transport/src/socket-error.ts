import { Code, RpcError } from '@mini-rpc/protocol';

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ERR_SOCKET_CLOSED',
  'ERR_STREAM_DESTROYED',
  'ERR_STREAM_WRITE_AFTER_END',
]);

// OpenSSL verification failures (UNABLE_TO_VERIFY_LEAF_SIGNATURE, SELF_SIGNED_CERT_IN_CHAIN, CERT_HAS_EXPIRED,
// ERR_TLS_CERT_ALTNAME_INVALID, a peer's "bad certificate" or "unknown CA" alert, …): the peers do not trust
// each other.
const TLS_TRUST = /CERT|SIGNATURE|UNABLE_TO_GET_ISSUER|SELF_SIGNED|ALTNAME|UNKNOWN_CA/;

/**
 * Maps a Node socket error to an RpcError with a status code. This is the one place that knows errno
 * names: connection-level failures (ECONNREFUSED, ECONNRESET, EPIPE, …) are `Unavailable` so callers may
 * fail over; ETIMEDOUT is `Unavailable` too (the peer, not the call, timed out); TLS certificate failures are
 * `Unauthenticated`; anything else is `Unavailable` with the original message. An RpcError passes through.
 *
 * @example
 * ```ts
 * socket.on('error', (err) => fail(toRpcError(err)));
 * ```
 */
export function toRpcError(error: unknown, context = 'connection'): RpcError {
  if (error instanceof RpcError) return error;
  const err = error as NodeJS.ErrnoException | undefined;
  const errno = typeof err?.code === 'string' ? err.code : '';
  const message = err?.message ?? String(error);
  if (UNAVAILABLE_CODES.has(errno))
    return new RpcError(Code.Unavailable, `${context}: ${errno}`, { cause: error });
  if (errno === 'ETIMEDOUT')
    return new RpcError(Code.Unavailable, `${context}: timed out (ETIMEDOUT)`, { cause: error });
  if (TLS_TRUST.test(errno)) {
    return new RpcError(Code.Unauthenticated, `${context}: TLS certificate rejected (${errno})`, {
      cause: error,
    });
  }
  if (errno.startsWith('ERR_SSL') || errno.startsWith('ERR_TLS')) {
    return new RpcError(Code.Unavailable, `${context}: TLS failure (${errno})`, { cause: error });
  }
  return new RpcError(Code.Unavailable, `${context}: ${message}`, { cause: error });
}
