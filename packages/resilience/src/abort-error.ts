import { Code, RpcError } from '@mini-rpc/protocol';

/**
 * The RpcError for an aborted signal's `reason`: an RpcError stays as is, a `TimeoutError` becomes
 * DeadlineExceeded, anything else Cancelled. Internal: not exported from the package.
 */
export function abortError(reason: unknown): RpcError {
  if (reason === undefined) return new RpcError(Code.Cancelled, 'the call was cancelled');
  return RpcError.from(reason, Code.Cancelled);
}
