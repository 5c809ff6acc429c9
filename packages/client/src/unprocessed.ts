import type { RpcError } from '@mini-rpc/protocol';

// Errors of calls that certainly did not run on the server (never written, refused before dispatch, or
// refused by a draining server). A retry of such a call is always safe (docs/resilience.md).
const marked = new WeakSet<RpcError>();

/** Marks `error` as "the request did not run"; returns it. */
export function markUnprocessed(error: RpcError): RpcError {
  marked.add(error);
  return error;
}

/** True when the call that failed with `error` certainly did not run on the server. */
export function isUnprocessed(error: RpcError): boolean {
  return marked.has(error);
}
