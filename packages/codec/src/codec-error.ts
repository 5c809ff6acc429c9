const BRAND = Symbol.for('@mini-rpc/CodecError');

/**
 * What went wrong, as a stable string: safe to match on, log and count.
 * - `encode_failed`: the value cannot be written (a cycle, a bigint in JSON, a field of the wrong type).
 * - `decode_failed`: the bytes are not a valid message for this codec (and schema).
 * - `unknown_schema`: protobuf was given no schema, or one for a method it has no types for.
 * - `unknown_codec`: no codec is registered for a codec id.
 * - `invalid_schema`: a `.proto` source or JSON descriptor does not parse, or names a type it lacks.
 * - `invalid_options`: a registry got two codecs with one id, or an id other than 0, 1 or 2 (the codec
 *   bytes of docs/protocol.md §2).
 */
export type CodecErrorCode =
  | 'encode_failed'
  | 'decode_failed'
  | 'unknown_schema'
  | 'unknown_codec'
  | 'invalid_schema'
  | 'invalid_options';

/**
 * The one error this package throws. It has no dependency on @mini-rpc/protocol by design: the server and
 * client turn it into an `RpcError` with `Code.InvalidArgument`. The library error, if any, is the `cause`.
 * `instanceof CodecError` holds across duplicate copies of this package (ESM and CJS builds, two versions).
 *
 * @example
 * ```ts
 * try {
 *   codec.decode(bytes);
 * } catch (err) {
 *   if (err instanceof CodecError && err.code === 'decode_failed') reject(err.message);
 * }
 * ```
 */
export class CodecError extends Error {
  readonly code: CodecErrorCode;

  constructor(code: CodecErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CodecError';
    this.code = code;
  }

  /** Marks instances so that `instanceof` works across package copies. */
  get [BRAND](): true {
    return true;
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== CodecError) return Function.prototype[Symbol.hasInstance].call(this, value);
    if (typeof value !== 'object' || value === null) return false;
    try {
      return (value as Record<symbol, unknown>)[BRAND] === true;
    } catch {
      // A thrown Proxy whose traps throw is no CodecError; `instanceof` must not throw out of an error path.
      return false;
    }
  }
}

/** True when `value` is a {@link CodecError} (from any copy of this package). */
export function isCodecError(value: unknown): value is CodecError {
  return value instanceof CodecError;
}

/** Wraps what a library threw while encoding or decoding, keeping it as the cause. */
export function codecFailure(
  code: 'encode_failed' | 'decode_failed',
  what: string,
  cause: unknown,
): CodecError {
  if (cause instanceof CodecError) return cause;
  return new CodecError(code, `${what}: ${reason(cause)}`, { cause });
}

/** The message of what was thrown, or its tag, or a fixed text: never throws (a Proxy whose traps throw). */
function reason(cause: unknown): string {
  try {
    return cause instanceof Error ? cause.message : String(cause);
  } catch {
    // Falls through to the tag.
  }
  try {
    return Object.prototype.toString.call(cause);
  } catch {
    return '[unprintable value]';
  }
}
