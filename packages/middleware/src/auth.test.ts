import { createHmac } from 'node:crypto';
import type { Identity } from '@mini-rpc/middleware';
import { auth, bearer, hmacTokens, signHmacToken, staticTokens } from '@mini-rpc/middleware';
import type { CallRequest, ServerContext } from '@mini-rpc/protocol';
import { Code, createMetadata, RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { compose, makeContext, rejectionOf } from '../test/compose.js';

const SECRET = 'test-secret-that-is-at-least-32-bytes-long';
const NOW = 1_700_000_000_000;

/** Runs one call through `auth(options)`; returns the error (or undefined) and whether the handler ran. */
async function attempt(
  options: Parameters<typeof auth>[0],
  metadata: Record<string, string>,
  method = 'get',
) {
  let ran = false;
  const ctx = makeContext({ metadata, method });
  const run = compose([auth(options)], () => {
    ran = true;
    return 'secret data';
  });
  let error: unknown;
  try {
    await run(ctx);
  } catch (err) {
    error = err;
  }
  return { error: error as RpcError | undefined, ran, ctx };
}

const hmac = { verify: hmacTokens({ secret: SECRET, now: () => NOW }) };
const valid = () =>
  signHmacToken({ subject: 'alice', expiresAt: NOW + 60_000, claims: { role: 'admin' } }, SECRET);

describe('auth with hmacTokens', () => {
  it('admits a valid token and stores the identity in ctx.state.identity', async () => {
    const { error, ran, ctx } = await attempt(hmac, { authorization: `Bearer ${valid()}` });
    expect(error).toBeUndefined();
    expect(ran).toBe(true);
    expect(ctx.state.identity).toEqual({ subject: 'alice', expiresAt: NOW + 60_000, role: 'admin' });
    expect(ctx.result).toBe('secret data');
  });

  it.each([
    ['missing', {}],
    ['empty', { authorization: '' }],
    ['a bare scheme', { authorization: 'Bearer ' }],
  ])('rejects a %s token with Unauthenticated, handler not run', async (_, metadata) => {
    const { error, ran } = await attempt(hmac, metadata);
    expect(error).toBeInstanceOf(RpcError);
    expect(error?.code).toBe(Code.Unauthenticated);
    expect(error?.rawMessage).toBe('missing credentials');
    expect(ran).toBe(false);
  });

  const tampered: [string, () => string][] = [
    ['wrong (garbage)', () => 'not-a-token'],
    [
      'signed with another secret',
      () => signHmacToken({ subject: 'alice', ttlMs: 60_000 }, `${SECRET}-other`),
    ],
    ['expired', () => signHmacToken({ subject: 'alice', expiresAt: NOW - 1 }, SECRET)],
    [
      'tampered in the payload',
      () => {
        const [payload, signature] = valid().split('.') as [string, string];
        const body = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
        body.sub = 'mallory';
        return `${Buffer.from(JSON.stringify(body)).toString('base64url')}.${signature}`;
      },
    ],
    [
      'tampered in the signature',
      () => {
        const token = valid();
        const last = token.at(-2) === 'A' ? 'B' : 'A';
        return `${token.slice(0, -2)}${last}${token.at(-1)}`;
      },
    ],
    [
      'extended in expiry',
      () => {
        const [payload, signature] = valid().split('.') as [string, string];
        const body = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>;
        body.exp = NOW + 10 * 365 * 86_400_000;
        return `${Buffer.from(JSON.stringify(body)).toString('base64url')}.${signature}`;
      },
    ],
    ['truncated', () => valid().slice(0, -1)],
    ['with padding characters added', () => `${valid()}=`],
    ['with a second dot', () => `${valid()}.x`],
    ['without its signature', () => `${valid().split('.')[0]}.`],
  ];
  it.each(tampered)('rejects a token %s with Unauthenticated, handler not run', async (_, make) => {
    const { error, ran } = await attempt(hmac, { authorization: `Bearer ${make()}` });
    expect(error?.code).toBe(Code.Unauthenticated);
    expect(error?.rawMessage).toBe('invalid credentials');
    expect(ran).toBe(false);
  });

  it('accepts an expired token within the leeway, and old tokens during a key rotation', async () => {
    const token = signHmacToken({ subject: 'bob', expiresAt: NOW - 500 }, SECRET);
    expect(hmacTokens({ secret: SECRET, now: () => NOW, leewayMs: 1_000 })(token, undefined)).toMatchObject({
      subject: 'bob',
    });
    const next = 'a-brand-new-secret-of-32-bytes-or-more';
    const rotated = hmacTokens({ secret: [next, SECRET], now: () => NOW });
    expect(rotated(valid(), undefined)).toMatchObject({ subject: 'alice' });
    const fresh = signHmacToken({ subject: 'carol', expiresAt: NOW + 1_000 }, next);
    expect(rotated(fresh, undefined)).toMatchObject({ subject: 'carol' });
    expect(hmac.verify(fresh, undefined)).toBeUndefined();
  });

  it('refuses short secrets and tokens that never expire', () => {
    expect(() => hmacTokens({ secret: 'short' })).toThrow(RangeError);
    expect(() => hmacTokens({ secret: [] })).toThrow(RangeError);
    expect(() => signHmacToken({ subject: 'a', ttlMs: 1 }, 'short')).toThrow(RangeError);
    expect(() => signHmacToken({ subject: 'a' }, SECRET)).toThrow(/must expire/);
    expect(() => signHmacToken({ subject: '', ttlMs: 1 }, SECRET)).toThrow(RangeError);
  });

  it('refuses a leewayMs that is not a finite number ≥ 0 (NaN would disable expiry)', () => {
    // e.g. Number(process.env.TOKEN_LEEWAY_MS) with the variable unset.
    expect(() => hmacTokens({ secret: SECRET, leewayMs: Number.NaN })).toThrow(RangeError);
    expect(() => hmacTokens({ secret: SECRET, leewayMs: Number.POSITIVE_INFINITY })).toThrow(RangeError);
    expect(() => hmacTokens({ secret: SECRET, leewayMs: -1 })).toThrow(RangeError);
  });

  it('fails closed when its clock reads NaN', () => {
    const verify = hmacTokens({ secret: SECRET, now: () => Number.NaN });
    expect(verify(signHmacToken({ subject: 'a', expiresAt: NOW - 1 }, SECRET), undefined)).toBeUndefined();
  });

  it('refuses a correctly signed payload that is not an object', () => {
    const payload = Buffer.from('null').toString('base64url');
    const signature = createHmac('sha256', SECRET).update(payload).digest('base64url');
    expect(hmac.verify(`${payload}.${signature}`, undefined)).toBeUndefined();
  });

  it('keeps sub and exp from being overridden by claims', () => {
    const token = signHmacToken(
      { subject: 'alice', expiresAt: NOW + 1, claims: { sub: 'root', exp: NOW * 2 } },
      SECRET,
    );
    expect(hmacTokens({ secret: SECRET, now: () => NOW })(token, undefined)).toEqual({
      subject: 'alice',
      expiresAt: NOW + 1,
    });
  });
});

describe('auth', () => {
  it('answers PermissionDenied when authorize says no, handler not run', async () => {
    const options = {
      ...hmac,
      authorize: (identity: Identity, ctx: ServerContext) =>
        ctx.method !== 'drop' || identity.role === 'root',
    };
    const denied = await attempt(options, { authorization: `Bearer ${valid()}` }, 'drop');
    expect(denied.error?.code).toBe(Code.PermissionDenied);
    expect(denied.ran).toBe(false);
    expect(denied.ctx.state.identity).toBeUndefined();
    const allowed = await attempt(options, { authorization: `Bearer ${valid()}` }, 'get');
    expect(allowed.ran).toBe(true);
  });

  it('supports async verifiers and authorizers, a custom header and bare tokens', async () => {
    const options = {
      verify: async (token: string) => (token === 'k1' ? { subject: 'svc' } : undefined),
      authorize: async () => true,
      header: 'x-api-key',
    };
    expect((await attempt(options, { 'x-api-key': 'k1' })).ran).toBe(true);
    expect((await attempt(options, { 'x-api-key': 'bearer k1' })).ran).toBe(true);
    expect((await attempt(options, { authorization: 'Bearer k1' })).error?.code).toBe(Code.Unauthenticated);
    // An async verifier alone (no authorize hook) takes the same checks.
    const verifyOnly = { verify: options.verify };
    const admitted = await attempt(verifyOnly, { authorization: 'Bearer k1' });
    expect([admitted.ran, admitted.ctx.state.identity]).toEqual([true, { subject: 'svc' }]);
    const refused = await attempt(verifyOnly, { authorization: 'Bearer k2' });
    expect([refused.ran, refused.error?.code, refused.error?.rawMessage]).toEqual([
      false,
      Code.Unauthenticated,
      'invalid credentials',
    ]);
  });

  it('hands the verifier what follows a case-insensitive Bearer and whitespace, trimmed, in every form of the header', async () => {
    const cases: [string, string][] = [
      ['Bearer abc', 'abc'],
      ['bearer abc', 'abc'],
      ['BEARER  abc', 'abc'],
      ['Bearer  abc', 'abc'],
      ['Bearer abc ', 'abc'],
      ['Bearer \tabc\n', 'abc'],
      ['Bearer\u00a0abc', 'abc'],
      ['Bearer abc\u3000', 'abc'],
      ['Bearer éclair', 'éclair'],
      ['Bearer a', 'a'],
      ['Bearer Bearer x', 'Bearer x'],
      ['Bearerabc', 'Bearerabc'],
      ['  abc  ', 'abc'],
    ];
    for (const [header, token] of cases) {
      const seen: string[] = [];
      const verify = (t: string) => {
        seen.push(t);
        return { subject: 's' };
      };
      const { ran } = await attempt({ verify }, { authorization: header });
      expect([header, ran, seen]).toEqual([header, true, [token]]);
    }
    // Only whitespace after Bearer is no token at all.
    const empty = await attempt({ verify: () => ({ subject: 's' }) }, { authorization: 'Bearer   ' });
    expect([empty.ran, empty.error?.rawMessage]).toEqual([false, 'missing credentials']);
  });

  it.each([
    ['null', null],
    ['false', false],
    ['a string', 'alice'],
    ['an object without a subject', { role: 'admin' }],
    ['an empty subject', { subject: '' }],
  ])('refuses a verifier answer of %s as invalid credentials, handler not run', async (_, answer) => {
    for (const verify of [() => answer as never, async () => answer as never]) {
      const { error, ran, ctx } = await attempt({ verify }, { authorization: 'Bearer k' });
      expect([ran, error?.code, error?.rawMessage]).toEqual([
        false,
        Code.Unauthenticated,
        'invalid credentials',
      ]);
      expect(ctx.state.identity).toBeUndefined();
    }
  });

  it('lets an error of the verifier itself propagate', async () => {
    const outage = new RpcError(Code.Unavailable, 'key store down');
    const { error, ran } = await attempt(
      {
        verify: () => {
          throw outage;
        },
      },
      { authorization: 'Bearer x' },
    );
    expect(error).toBe(outage);
    expect(ran).toBe(false);
  });
});

describe('staticTokens', () => {
  const verify = staticTokens({ 'key-one': 'billing', 'key-two': { subject: 'reports', role: 'reader' } });

  it('maps each token to its identity', () => {
    expect(verify('key-one', undefined)).toEqual({ subject: 'billing' });
    expect(verify('key-two', undefined)).toEqual({ subject: 'reports', role: 'reader' });
  });

  it.each(['key-on', 'key-one ', 'KEY-ONE', '', 'key-one-and-more'])('rejects %j', (token) => {
    expect(verify(token, undefined)).toBeUndefined();
  });

  it('refuses an empty configuration or an empty token', () => {
    expect(() => staticTokens({})).toThrow(RangeError);
    expect(() => staticTokens({ '': 'x' })).toThrow(RangeError);
  });

  it('works end to end through auth', async () => {
    const { ran, ctx } = await attempt({ verify }, { authorization: 'Bearer key-two' });
    expect(ran).toBe(true);
    expect(ctx.state.identity).toMatchObject({ subject: 'reports' });
  });
});

describe('bearer', () => {
  const call = (): CallRequest => ({
    service: 'S',
    method: 'm',
    args: [],
    metadata: createMetadata(),
    deadline: undefined,
    signal: undefined,
    idempotent: true,
  });

  it('attaches a fixed token as authorization metadata', async () => {
    let seen: string | undefined;
    const send = bearer('abc')(async (c) => {
      seen = c.metadata.authorization;
      return 'ok';
    });
    expect(await send(call())).toBe('ok');
    expect(seen).toBe('Bearer abc');
  });

  it('asks a token function on every call, and a header option', async () => {
    let n = 0;
    const seen: (string | undefined)[] = [];
    const send = bearer(async () => `t${++n}`, { header: 'x-token' })(async (c) => {
      seen.push(c.metadata['x-token']);
    });
    await send(call());
    await send(call());
    expect(seen).toEqual(['Bearer t1', 'Bearer t2']);
  });

  it('fails the call without sending when the token function throws', async () => {
    let sent = false;
    const send = bearer(() => {
      throw new RpcError(Code.Unauthenticated, 'no token yet');
    })(async () => {
      sent = true;
    });
    expect(((await rejectionOf(send(call()))) as RpcError).code).toBe(Code.Unauthenticated);
    expect(sent).toBe(false);
  });

  it('produces what auth accepts', async () => {
    const c = call();
    await bearer(valid())(async () => undefined)(c);
    const { ran, ctx } = await attempt(hmac, c.metadata);
    expect(ran).toBe(true);
    expect(ctx.state.identity).toMatchObject({ subject: 'alice' });
  });
});
