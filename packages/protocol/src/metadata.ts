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
