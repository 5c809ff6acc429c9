import { utf8Length } from './utf8.js';

/**
 * Key/value pairs that travel with a frame: UTF-8 strings both. Reserved keys start with `:`
 * (see {@link MetadataKey}); everything else belongs to the user (auth tokens, trace context, …).
 */
export type Metadata = Record<string, string>;

/**
 * The reserved metadata keys. They are short because they go on every call.
 * docs/protocol.md §4 is the normative list.
 */
export const MetadataKey = {
  /** Request: the service name. */
  Service: ':s',
  /** Request: the method name. */
  Method: ':m',
  /** Request: the time the caller still waits, in whole milliseconds (decimal). */
  Timeout: ':t',
  /** Response / GoAway: the status code (decimal); absent means OK. */
  Status: ':c',
  /** Response / GoAway: the error message. */
  Message: ':e',
  /** Response: client-safe error details, as JSON. */
  Details: ':d',
  /** Response (ResourceExhausted, Unavailable): milliseconds after which a retry may succeed. */
  RetryAfter: ':r',
  /** Response: `1` when the server refused the call before its handler ran, so a retry is always safe. */
  NotRun: ':u',
} as const;

/** The reserved prefix: user metadata keys must not start with it. */
export const RESERVED_PREFIX = ':';

/** Creates an empty metadata object with no prototype, so keys such as `__proto__` stay plain data. */
export function createMetadata(): Metadata {
  return Object.create(null) as Metadata;
}

/** The longest metadata key a frame can carry, UTF-8 bytes (a 16-bit length, docs/protocol.md §4.1). */
const MAX_KEY_BYTES = 0xffff;

/**
 * Why `md` cannot go out as user metadata — a reserved (`:`) key, a value that is not a string (plain JS),
 * a key over 65,535 UTF-8 bytes — as a phrase to follow "metadata", or undefined when it can. Cheap enough
 * per call: only a key over 21,845 UTF-16 units is measured.
 *
 * @example
 * ```ts
 * const problem = userMetadataProblem(md);
 * if (problem !== undefined) throw new RpcError(Code.InvalidArgument, `metadata ${problem}`);
 * ```
 */
export function userMetadataProblem(md: Metadata): string | undefined {
  for (const key in md) {
    if (key.startsWith(RESERVED_PREFIX)) return `key '${key}' is reserved`;
    const value: unknown = md[key];
    if (typeof value !== 'string') return `value of '${key}' is a ${typeof value}, not a string`;
    // UTF-8 takes at most 3 bytes per UTF-16 unit, so a key of up to 21,845 units always fits.
    if (key.length > MAX_KEY_BYTES / 3 && utf8Length(key) > MAX_KEY_BYTES)
      return `key of ${utf8Length(key)} bytes exceeds ${MAX_KEY_BYTES} (UTF-8)`;
  }
  return undefined;
}
