import type { Metadata } from './metadata.js';

/** One incoming call as server middleware and handlers see it. */
export interface ServerContext {
  readonly service: string;
  readonly method: string;
  /** Request id on its connection (for logs). */
  readonly requestId: number;
  /** Request metadata, reserved keys included. Read-only (frozen when calls share it): copy it to change it. */
  readonly metadata: Metadata;
  /** Metadata sent back with the response (success or error). */
  readonly responseMetadata: Metadata;
  /** The caller's address, `host:port`. */
  readonly peer: string;
  /** Absolute deadline (ms since epoch) sent by the caller, if any. */
  readonly deadline: number | undefined;
  /** Aborted when the deadline passes, the caller cancels, or the connection drops. */
  readonly signal: AbortSignal;
  /** Decoded arguments. */
  args: unknown;
  /** The handler's result, set by the innermost step of the chain. */
  result: unknown;
  /** A place for middleware to share per-call facts (e.g. the authenticated identity). */
  readonly state: Record<string, unknown>;
}

/** Runs the rest of the chain (and finally the handler). */
export type ServerNext = () => Promise<void>;

/**
 * Server middleware, onion order: the first registered runs outermost. Throw an RpcError to reject a call.
 *
 * @example
 * ```ts
 * const timing: ServerMiddleware = async (ctx, next) => {
 *   const t0 = performance.now();
 *   try { await next(); } finally { log(ctx.method, performance.now() - t0); }
 * };
 * ```
 */
export type ServerMiddleware = (ctx: ServerContext, next: ServerNext) => Promise<void>;

/**
 * Whether a handler's, middleware's or verifier's result is a promise or another thenable (an object or
 * function with a `then` method), which must be awaited, as opposed to a plain value to use at once.
 */
export const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null &&
  (typeof v === 'object' || typeof v === 'function') &&
  typeof (v as { then?: unknown }).then === 'function';
