import { Code, codeName, isCode } from './code.js';
import type { Metadata } from './metadata.js';

const BRAND = Symbol.for('@mini-rpc/RpcError');

/** Options for {@link RpcError}. */
export interface RpcErrorOptions {
  /** Extra key/value pairs that travel with the error (e.g. a retry hint). */
  metadata?: Metadata;
  /** Structured, client-safe details. They go on the wire as JSON. */
  details?: unknown;
  /** The underlying error. Stays in this process; it is never sent to a peer. */
  cause?: unknown;
}

/**
 * The one error type of mini-rpc: a status {@link Code}, a message, optional metadata and details.
 *
 * Only `code`, `message` and `details` cross the wire; stacks and causes never do.
 * `instanceof RpcError` holds across duplicate copies of this package (ESM and CJS builds, two versions).
 *
 * @example
 * ```ts
 * throw new RpcError(Code.NotFound, `no user ${id}`);
 * ```
 */
export class RpcError extends Error {
  readonly code: Code;
  readonly metadata: Metadata;
  readonly details: unknown;
  /** The message without the `[Code]` prefix. */
  readonly rawMessage: string;

  constructor(code: Code, message: string, options: RpcErrorOptions = {}) {
    // Plain JS may leave the message out (or pass something else): it is a string from here on.
    const text = typeof message === 'string' ? message : message === undefined ? '' : describe(message);
    super(`[${codeName(code)}] ${text}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RpcError';
    this.code = code;
    this.rawMessage = text;
    this.metadata = options.metadata ?? {};
    this.details = options.details;
  }

  /** Marks instances so that `instanceof` works across package copies. */
  get [BRAND](): true {
    return true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    // Subclasses keep the ordinary prototype check; only the base class is matched by brand.
    if (this !== RpcError) return Function.prototype[Symbol.hasInstance].call(this, value);
    if (typeof value !== 'object' || value === null) return false;
    try {
      return (value as Record<symbol, unknown>)[BRAND] === true;
    } catch {
      // A thrown Proxy whose traps throw is no RpcError; `instanceof` must not throw out of an error path.
      return false;
    }
  }

  /**
   * Turns anything thrown into an RpcError: an RpcError is returned as is, an `AbortSignal` reason keeps its
   * meaning (timeout → DeadlineExceeded, abort → Cancelled), anything else becomes `fallback` (default
   * Unknown) with its message.
   */
  static from(reason: unknown, fallback: Code = Code.Unknown): RpcError {
    if (reason instanceof RpcError) return reason;
    try {
      if (reason instanceof Error) {
        if (reason.name === 'TimeoutError')
          return new RpcError(Code.DeadlineExceeded, reason.message, { cause: reason });
        if (reason.name === 'AbortError')
          return new RpcError(Code.Cancelled, reason.message, { cause: reason });
        return new RpcError(fallback, reason.message, { cause: reason });
      }
    } catch {
      // A Proxy whose traps throw, a `name` or `message` getter that throws: described below like any value.
    }
    return new RpcError(fallback, describe(reason), { cause: reason });
  }

  /** Builds an RpcError from what came over the wire; an unknown code number becomes Unknown. */
  static fromWire(code: number, message: string, details?: unknown, metadata?: Metadata): RpcError {
    const options: RpcErrorOptions = {};
    if (details !== undefined) options.details = details;
    if (metadata !== undefined) options.metadata = metadata;
    return new RpcError(isCode(code) ? code : Code.Unknown, message, options);
  }
}

/**
 * What was thrown, as text for a message or a log line: an RpcError's message without its `[Code]` prefix,
 * an Error's message, anything else as `String(value)`; its tag when that throws (an object without a
 * prototype, a getter or `toString` that throws), or `[unprintable value]` when even the tag cannot be read
 * (a Proxy whose traps throw). Never throws, and builds no error (no stack is captured) to find out.
 *
 * @example
 * ```ts
 * logger.warn({ error: thrownText(err) }, 'call failed');
 * ```
 */
export function thrownText(value: unknown): string {
  try {
    if (value instanceof RpcError) return value.rawMessage;
    if (value instanceof Error) return String(value.message);
  } catch {
    // A message getter or a Proxy trap that throws: described below like any value.
  }
  return describe(value);
}

/**
 * `String(value)`, or its tag when that throws (an object without a prototype, a throwing toString), or a
 * fixed text when even the tag cannot be read (a Proxy whose traps throw). Never throws.
 */
function describe(value: unknown): string {
  try {
    return String(value);
  } catch {
    // Falls through to the tag.
  }
  try {
    return Object.prototype.toString.call(value);
  } catch {
    return '[unprintable value]';
  }
}
