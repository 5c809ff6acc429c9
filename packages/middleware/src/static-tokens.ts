import { hash, timingSafeEqual } from 'node:crypto';
import type { Identity, TokenVerifier } from './identity.js';

/**
 * A verifier for a fixed set of tokens (API keys), each mapped to an identity (or just a subject).
 *
 * Comparison is constant-time: the presented token and each configured one are compared as SHA-256
 * digests with `timingSafeEqual`, and every configured token is checked, so neither the position of a
 * mismatch nor the token's length leaks through timing. A token that verified once is remembered (by its
 * exact string), so repeated calls with a valid token cost a map lookup.
 *
 * @throws RangeError when no tokens are given or one is empty.
 * @example
 * ```ts
 * const guard = auth({ verify: staticTokens({ [process.env.API_KEY!]: { subject: 'billing', role: 'admin' } }) });
 * ```
 */
export function staticTokens(tokens: Readonly<Record<string, Identity | string>>): TokenVerifier {
  const entries = Object.entries(tokens).map(([token, who]) => {
    if (token === '') throw new RangeError('staticTokens: a token must not be empty');
    const identity: Identity = typeof who === 'string' ? { subject: who } : who;
    return { digest: sha256(token), identity };
  });
  if (entries.length === 0) throw new RangeError('staticTokens: give at least one token');
  // Tokens already verified skip the digests: a hit needs the exact string of a valid token, and tells the
  // caller nothing the answer would not (the SHA-256 was 7% of a server's CPU per call in apps/bench).
  const verified = new Map<string, Identity>();
  return (token: string): Identity | undefined => {
    const known = verified.get(token);
    if (known !== undefined) return known;
    const digest = sha256(token);
    let found: Identity | undefined;
    for (const entry of entries) {
      // No early exit: the time taken does not depend on which entry matches.
      if (timingSafeEqual(digest, entry.digest) && found === undefined) found = entry.identity;
    }
    if (found !== undefined) {
      if (verified.size >= MAX_VERIFIED) verified.clear();
      verified.set(token, found);
    }
    return found;
  };
}

/** Bound on remembered valid tokens (a presented token is either configured or refused, so this is small). */
const MAX_VERIFIED = 1_024;

function sha256(text: string): Buffer {
  // One-shot crypto.hash (Node ≥ 20.12) costs half of a createHash() object per call.
  return hash('sha256', text, 'buffer');
}
