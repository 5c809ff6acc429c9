/**
 * Who is calling, as a verifier establishes it. {@link auth} stores it in `ctx.state.identity`;
 * `rateLimit({ by: 'caller' })` keys on `subject`.
 */
export interface Identity {
  /** A stable id of the caller (user, service account, API key name). */
  readonly subject: string;
  /** Anything else the verifier knows (roles, tenant, claims). */
  readonly [claim: string]: unknown;
}

/**
 * Checks a credential: returns the caller's identity, or `undefined` when the token is not valid.
 * Throwing is for failures of the verifier itself (e.g. its key store is down), not for bad tokens.
 */
export type TokenVerifier<TCtx = unknown> = (
  token: string,
  ctx: TCtx,
) => Identity | undefined | Promise<Identity | undefined>;
