import type { Identity, TokenVerifier } from '@mini-rpc/middleware';
import { auth, bearer, hmacTokens, recovery, signHmacToken, staticTokens } from '@mini-rpc/middleware';
import type { ServerContext } from '@mini-rpc/protocol';
import { Code } from '@mini-rpc/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { captureLogs, harness, rejection, Shop } from './middleware-fixtures.js';

const h = harness();
afterEach(() => h.cleanup());

const KEY = 'integration-secret-0123456789-abcdefghijklmnop';
const OTHER_KEY = 'another-secret-0123456789-abcdefghijklmnopqrs';
/** The verifier's clock (ms since the epoch), moved by the tests. */
let now = Date.UTC(2030, 0, 1);

/** Only admins may call `drop`; every authenticated caller may call the rest. */
const authorize = (identity: Identity, ctx: ServerContext): boolean =>
  ctx.method !== 'drop' || identity.role === 'admin';

async function guardedShop(verify: TokenVerifier<ServerContext>) {
  const shop = new Shop();
  const logs = captureLogs('error');
  const { address } = await h.serve(
    { middleware: [recovery({ logger: logs.logger }), auth({ verify, authorize })] },
    [shop],
  );
  return { shop, address, logs };
}

/** Runs of handlers: a refused call must leave this unchanged. */
const totalRuns = (shop: Shop): number => Object.values(shop.runs).reduce((a, b) => a + b, 0);

/** A token whose payload claims to be someone else, with the original signature. */
function forgeSubject(token: string, subject: string): string {
  const [payload, signature] = token.split('.') as [string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  return `${Buffer.from(JSON.stringify({ ...claims, sub: subject, role: 'admin' })).toString('base64url')}.${signature}`;
}

/** The token with one character of its signature changed (keeping the token's shape valid). */
function flipSignature(token: string): string {
  const at = token.indexOf('.') + 5;
  const c = token[at] === 'A' ? 'B' : 'A';
  return token.slice(0, at) + c + token.slice(at + 1);
}

describe('auth through a real server and client', () => {
  it('staticTokens: missing and wrong keys are Unauthenticated, no permission is PermissionDenied, handlers never run for them', async () => {
    const verify = staticTokens({
      'key-reader-7f3a9c': { subject: 'reader', role: 'reader' },
      'key-admin-b81e22': { subject: 'root', role: 'admin' },
    });
    const { shop, address, logs } = await guardedShop(verify);
    const anonymous = h.connect(address);
    const refused: [string, () => Promise<unknown>, Code][] = [
      ['no token', () => anonymous.call('Shop', 'whoami'), Code.Unauthenticated],
      [
        'empty bearer',
        () => h.connect(address, { interceptors: [bearer('')] }).call('Shop', 'whoami'),
        Code.Unauthenticated,
      ],
      [
        'unknown key',
        () => h.connect(address, { interceptors: [bearer('key-reader-7f3a9d')] }).call('Shop', 'whoami'),
        Code.Unauthenticated,
      ],
      [
        'key prefix',
        () => h.connect(address, { interceptors: [bearer('key-reader-7f3a9')] }).call('Shop', 'whoami'),
        Code.Unauthenticated,
      ],
      [
        'other header',
        () => anonymous.call('Shop', 'whoami', {}, { metadata: { 'x-api-key': 'key-admin-b81e22' } }),
        Code.Unauthenticated,
      ],
      [
        'reader drops',
        () => h.connect(address, { interceptors: [bearer('key-reader-7f3a9c')] }).call('Shop', 'drop'),
        Code.PermissionDenied,
      ],
    ];
    for (const [what, call, code] of refused) {
      const err = await rejection(call());
      expect({ what, code: err.code }).toEqual({ what, code });
      expect(err.rawMessage).not.toMatch(/key-|reader|admin/); // says nothing about the token or the roles
    }
    expect(totalRuns(shop)).toBe(0);

    // bearer() attaches the credential; the handler sees who called.
    const reader = h.connect(address, { interceptors: [bearer('key-reader-7f3a9c')] });
    expect(await reader.call('Shop', 'whoami')).toBe('reader');
    expect(shop.seen[0]!.metadata.authorization).toBe('Bearer key-reader-7f3a9c');
    expect(shop.seen[0]!.state.identity).toEqual({ subject: 'reader', role: 'reader' });
    const admin = h.connect(address, { interceptors: [bearer('key-admin-b81e22')] });
    expect(await admin.call('Shop', 'drop')).toBe('dropped');
    // A bare token (no "Bearer ") is accepted too.
    expect(
      await anonymous.call('Shop', 'whoami', {}, { metadata: { authorization: 'key-admin-b81e22' } }),
    ).toBe('root');
    expect(shop.runs).toEqual({ whoami: 2, drop: 1 });
    expect(logs.lines).toEqual([]); // refusals are not server errors
  });

  it('hmacTokens: missing, forged, tampered, foreign, truncated and expired tokens are Unauthenticated; handlers never run', async () => {
    const { shop, address } = await guardedShop(hmacTokens({ secret: KEY, now: () => now }));
    const expiresAt = now + 60_000;
    const reader = signHmacToken({ subject: 'reader', expiresAt, claims: { role: 'reader' } }, KEY);
    const admin = signHmacToken({ subject: 'root', expiresAt, claims: { role: 'admin' } }, KEY);
    const caller = (token: string) => h.connect(address, { interceptors: [bearer(token)] });
    const bad: [string, string][] = [
      ['tampered payload', forgeSubject(reader, 'root')],
      ['tampered signature', flipSignature(admin)],
      [
        'signed with another key',
        signHmacToken({ subject: 'root', expiresAt, claims: { role: 'admin' } }, OTHER_KEY),
      ],
      ['truncated', admin.slice(0, -1)],
      ['signature only', admin.slice(admin.indexOf('.') + 1)],
      [
        'already expired',
        signHmacToken({ subject: 'root', expiresAt: now - 1, claims: { role: 'admin' } }, KEY),
      ],
    ];
    const missing = await rejection(h.connect(address).call('Shop', 'drop'));
    expect(missing.code).toBe(Code.Unauthenticated);
    for (const [what, token] of bad) {
      const err = await rejection(caller(token).call('Shop', 'drop'));
      expect({ what, code: err.code }).toEqual({ what, code: Code.Unauthenticated });
    }
    const denied = await rejection(caller(reader).call('Shop', 'drop'));
    expect(denied.code).toBe(Code.PermissionDenied);
    expect(totalRuns(shop)).toBe(0);

    // Valid now; expired once the verifier's clock passes `expiresAt` — with the same client and token.
    const root = caller(admin);
    expect(await root.call('Shop', 'drop')).toBe('dropped');
    expect(await caller(reader).call('Shop', 'whoami')).toBe('reader');
    expect(shop.seen[1]!.state.identity).toEqual({ subject: 'reader', role: 'reader', expiresAt });
    now = expiresAt; // the last valid millisecond
    expect(await root.call('Shop', 'whoami')).toBe('root');
    now = expiresAt + 1;
    expect((await rejection(root.call('Shop', 'whoami'))).code).toBe(Code.Unauthenticated);
    expect(shop.runs).toEqual({ drop: 1, whoami: 2 });
  });

  it('bearer() with a function asks for the token on every call (refresh), sync or async', async () => {
    const { shop, address } = await guardedShop(hmacTokens({ secret: KEY, now: () => now }));
    const subjects = ['first', 'second', 'third'];
    let i = 0;
    const sync = h.connect(address, {
      interceptors: [bearer(() => signHmacToken({ subject: subjects[i++]!, expiresAt: now + 1_000 }, KEY))],
    });
    expect([await sync.call('Shop', 'whoami'), await sync.call('Shop', 'whoami')]).toEqual([
      'first',
      'second',
    ]);
    const async = h.connect(address, {
      interceptors: [
        bearer(async () => signHmacToken({ subject: subjects[i++]!, expiresAt: now + 1_000 }, KEY)),
      ],
    });
    expect(await async.call('Shop', 'whoami')).toBe('third');
    // A token source that fails fails the call before anything is sent.
    const broken = h.connect(address, {
      interceptors: [
        bearer(() => {
          throw new Error('token store down');
        }),
      ],
    });
    await expect(broken.call('Shop', 'whoami')).rejects.toThrow('token store down');
    expect(shop.runs).toEqual({ whoami: 3 });
  });
});
