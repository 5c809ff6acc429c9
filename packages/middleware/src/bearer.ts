import type { CallNext, CallRequest, ClientInterceptor } from '@mini-rpc/protocol';

/** Options for {@link bearer}. */
export interface BearerOptions {
  /** Request metadata key to set. Default `'authorization'` (what {@link auth} reads). */
  header?: string;
}

/** A fixed token, or a function that returns the current one (e.g. refreshed before it expires). */
export type TokenSource = string | (() => string | Promise<string>);

/**
 * Client interceptor that sends a token with every call as `authorization: Bearer <token>`.
 * A fixed token's header value is built once; a function is called per call (cache in it if it is costly).
 * An error thrown by the function fails the call before anything is sent.
 *
 * @example
 * ```ts
 * const client = createClient({ interceptors: [bearer(() => tokens.current())] });
 * ```
 */
export function bearer(token: TokenSource, options: BearerOptions = {}): ClientInterceptor {
  const header = options.header ?? 'authorization';
  if (typeof token === 'string') {
    const value = `Bearer ${token}`;
    return (next: CallNext): CallNext =>
      (call: CallRequest) => {
        call.metadata[header] = value;
        return next(call);
      };
  }
  return (next: CallNext): CallNext =>
    async (call: CallRequest) => {
      call.metadata[header] = `Bearer ${await token()}`;
      return next(call);
    };
}
