import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Identity, TokenVerifier } from './identity.js';

/** An HMAC key: at least 32 bytes (e.g. `randomBytes(32)`, or a long random string). */
export type HmacSecret = string | Uint8Array;

/** What {@link signHmacToken} puts in a token. Give `expiresAt` or `ttlMs`. */
export interface HmacTokenClaims {
  /** The caller's id; becomes `identity.subject`. */
  subject: string;
  /** Absolute expiry, ms since the epoch (`Date.now()` clock). */
  expiresAt?: number;
  /** Lifetime from now, in ms; used when `expiresAt` is absent. */
  ttlMs?: number;
  /** Extra claims (roles, tenant); they appear on the identity. Keys `sub` and `exp` are reserved. */
  claims?: Readonly<Record<string, unknown>>;
}

/** Options for {@link hmacTokens}. */
export interface HmacTokensOptions {
  /** The key, or several during a rotation (the first signs, all verify). */
  secret: HmacSecret | readonly HmacSecret[];
  /** Clock, ms since the epoch. Default `Date.now`. */
  now?: () => number;
  /** Tolerance for clock skew when checking expiry, in ms: a finite number ≥ 0. Default 0. */
  leewayMs?: number;
}

const MIN_SECRET_BYTES = 32;
// base64url payload, a dot, and the 43 characters of a 32-byte signature.
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/**
 * Creates a signed, expiring token: `base64url(JSON payload) "." base64url(HMAC-SHA256(payload part))`.
 * The payload is `{ sub, exp, ...claims }` with `exp` in ms since the epoch. The payload is signed, not
 * encrypted: do not put secrets in claims.
 *
 * @throws RangeError when the secret is shorter than 32 bytes, the subject is empty, or neither
 * `expiresAt` nor `ttlMs` is given.
 * @example
 * ```ts
 * const token = signHmacToken({ subject: 'reports', ttlMs: 3_600_000, claims: { role: 'reader' } }, secret);
 * ```
 */
export function signHmacToken(claims: HmacTokenClaims, secret: HmacSecret): string {
  checkSecret(secret);
  if (claims.subject === '') throw new RangeError('signHmacToken: subject must not be empty');
  const exp = claims.expiresAt ?? (claims.ttlMs === undefined ? undefined : Date.now() + claims.ttlMs);
  if (exp === undefined || !Number.isFinite(exp)) {
    throw new RangeError('signHmacToken: give expiresAt or ttlMs (tokens must expire)');
  }
  const payload = Buffer.from(JSON.stringify({ ...claims.claims, sub: claims.subject, exp })).toString(
    'base64url',
  );
  return `${payload}.${mac(secret, payload).toString('base64url')}`;
}

/**
 * A verifier for tokens made by {@link signHmacToken}: checks the signature in constant time
 * (`timingSafeEqual`) against each configured secret, then the expiry. A tampered, truncated, expired or
 * otherwise malformed token gives `undefined` (so {@link auth} answers Unauthenticated). The identity is
 * `{ subject, expiresAt, ...claims }`.
 *
 * @throws RangeError when a secret is shorter than 32 bytes, or `leewayMs` is not a finite number ≥ 0.
 * @example
 * ```ts
 * const guard = auth({ verify: hmacTokens({ secret: process.env.TOKEN_SECRET! }) });
 * ```
 */
export function hmacTokens(options: HmacTokensOptions): TokenVerifier {
  const secrets: readonly HmacSecret[] = isSecretList(options.secret) ? options.secret : [options.secret];
  if (secrets.length === 0) throw new RangeError('hmacTokens: give at least one secret');
  for (const secret of secrets) checkSecret(secret);
  const now = options.now ?? Date.now;
  const leewayMs = options.leewayMs ?? 0;
  // NaN (e.g. Number() of an unset environment variable) would make every expiry check pass.
  if (!(Number.isFinite(leewayMs) && leewayMs >= 0))
    throw new RangeError('hmacTokens: leewayMs must be a finite number ≥ 0');
  return (token: string): Identity | undefined => {
    // Strict shape first: Buffer's base64url decoder skips characters it does not know, so anything but the
    // canonical alphabet could decode to something other than what was signed.
    if (!TOKEN_SHAPE.test(token)) return undefined;
    const dot = token.indexOf('.');
    const payload = token.slice(0, dot);
    const signature = Buffer.from(token.slice(dot + 1), 'base64url');
    let valid = false;
    for (const secret of secrets) {
      const expected = mac(secret, payload);
      if (signature.length === expected.length && timingSafeEqual(signature, expected)) valid = true;
    }
    if (!valid) return undefined;
    let body: unknown;
    try {
      body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (typeof body !== 'object' || body === null) return undefined;
    const { sub, exp, ...claims } = body as { sub?: unknown; exp?: unknown };
    if (typeof sub !== 'string' || sub === '' || typeof exp !== 'number') return undefined;
    // Written so that a clock reading NaN fails closed: every comparison with NaN is false.
    if (!(now() <= exp + leewayMs)) return undefined;
    return { ...claims, subject: sub, expiresAt: exp };
  };
}

function mac(secret: HmacSecret, payload: string): Buffer {
  return createHmac('sha256', secret).update(payload, 'utf8').digest();
}

function isSecretList(value: HmacSecret | readonly HmacSecret[]): value is readonly HmacSecret[] {
  return Array.isArray(value);
}

function checkSecret(secret: HmacSecret): void {
  const bytes = typeof secret === 'string' ? Buffer.byteLength(secret, 'utf8') : secret.byteLength;
  if (bytes < MIN_SECRET_BYTES)
    throw new RangeError(`HMAC secret must be at least ${MIN_SECRET_BYTES} bytes`);
}
