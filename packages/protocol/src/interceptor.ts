import type { Metadata } from './metadata.js';

/** One outgoing call as client interceptors see it. Interceptors may change `args` and `metadata`. */
export interface CallRequest {
  readonly service: string;
  readonly method: string;
  args: unknown;
  metadata: Metadata;
  /** Absolute deadline (ms since epoch, `Date.now()` clock), if the call has one. */
  readonly deadline: number | undefined;
  readonly signal: AbortSignal | undefined;
  /** True when the method may safely run more than once. */
  readonly idempotent: boolean;
}

/** The rest of the client pipeline, from an interceptor's point of view. */
export type CallNext = (call: CallRequest) => Promise<unknown>;

/**
 * A client interceptor: wraps the rest of the pipeline. The first in the list is the outermost.
 *
 * @example
 * ```ts
 * const addToken: ClientInterceptor = (next) => (call) => {
 *   call.metadata.authorization = `Bearer ${token}`;
 *   return next(call);
 * };
 * ```
 */
export type ClientInterceptor = (next: CallNext) => CallNext;
