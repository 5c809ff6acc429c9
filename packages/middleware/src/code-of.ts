import type { ServerContext } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';

// recovery() marks each call it wraps, so that logging and metrics running inside it report the code the
// caller will actually see (Internal) rather than the server's fallback for unknown errors (Unknown).
const RECOVERED = Symbol.for('@mini-rpc/middleware/recovered');

/** Marks `ctx` as running inside {@link recovery}. */
export function markRecovered(ctx: ServerContext): void {
  (ctx.state as Record<symbol, unknown>)[RECOVERED] = true;
}

/**
 * True when `err` is the expected fallout of the call's own signal (deadline or cancel): such errors are not
 * bugs, and RpcError.from maps them to DeadlineExceeded or Cancelled.
 */
export function isAbortFallout(err: unknown, ctx: ServerContext): boolean {
  if (!ctx.signal.aborted) return false;
  if (err === ctx.signal.reason) return true;
  const name = nameOf(err);
  return name === 'AbortError' || name === 'TimeoutError';
}

/** The code `RpcError.from(err)` would give, without building an error (and capturing a stack) to find out. */
export function codeFrom(err: unknown): Code {
  try {
    if (err instanceof RpcError) return err.code;
    if (err instanceof Error) {
      const name = nameOf(err);
      if (name === 'TimeoutError') return Code.DeadlineExceeded;
      if (name === 'AbortError') return Code.Cancelled;
    }
  } catch {
    // A thrown value that throws when inspected (a Proxy's trap) is no error we know.
  }
  return Code.Unknown;
}

/** The status code the caller receives for a call whose server chain threw `err`. */
export function codeOf(err: unknown, ctx: ServerContext): Code {
  if (isKnownError(err, ctx)) return codeFrom(err);
  if ((ctx.state as Record<symbol, unknown>)[RECOVERED] === true) return Code.Internal;
  // Without recovery the server converts with RpcError.from (packages/server/README.md, Errors).
  return codeFrom(err);
}

/**
 * True for an RpcError or the fallout of the call's own signal: what recovery passes on as it is. Never
 * throws, whatever was thrown (logging and metrics must finish their bookkeeping for every call).
 */
export function isKnownError(err: unknown, ctx: ServerContext): boolean {
  try {
    return err instanceof RpcError || isAbortFallout(err, ctx);
  } catch {
    return false;
  }
}

/** `err.name`, or undefined when there is none or reading it throws (a getter, a Proxy). */
function nameOf(err: unknown): unknown {
  try {
    return (err as { name?: unknown } | null | undefined)?.name;
  } catch {
    return undefined;
  }
}
