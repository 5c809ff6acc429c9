import { Code, RpcError } from '@mini-rpc/protocol';
import { GRPCDeadlineExceededError } from 'etcd3';

/**
 * Wraps an etcd3 failure as an RpcError: a missed deadline is DeadlineExceeded; everything else (etcd down,
 * circuit open, lease gone) is Unavailable, since for a caller the registry simply could not be reached.
 */
export function etcdError(action: string, cause: unknown): RpcError {
  if (cause instanceof RpcError) return cause;
  const message = cause instanceof Error ? cause.message : String(cause);
  const code = cause instanceof GRPCDeadlineExceededError ? Code.DeadlineExceeded : Code.Unavailable;
  return new RpcError(code, `etcd registry: ${action} failed: ${message}`, { cause });
}
