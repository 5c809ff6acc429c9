import { auth, rateLimit, staticTokens } from '@mini-rpc/middleware';
import { Code, MetadataKey, RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { compose, makeContext, rejectionOf } from '../test/compose.js';

/** A clock the test moves by hand (ms). */
function manualClock(start = 1_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

/** Runs one call; resolves to true when it was admitted, false when it was rate limited. */
async function admitted(
  run: (ctx: ReturnType<typeof makeContext>) => Promise<void>,
  init = {},
): Promise<boolean> {
  try {
    await run(makeContext(init));
    return true;
  } catch (err) {
    if (err instanceof RpcError && err.code === Code.ResourceExhausted) return false;
    throw err;
  }
}

describe('rateLimit', () => {
  it.each([
    { rate: 100, burst: 10, stepMs: 0.5, seconds: 10 },
    { rate: 1_000, burst: 1, stepMs: 0.25, seconds: 5 },
    { rate: 7, burst: 3, stepMs: 10, seconds: 60 },
  ])('holds $rate/s (burst $burst) within ±10% under overload', async ({ rate, burst, stepMs, seconds }) => {
    const clock = manualClock();
    let handled = 0;
    const run = compose([rateLimit({ rate, burst, now: clock.now })], () => {
      handled++;
    });
    const attempts = Math.round((seconds * 1000) / stepMs);
    let accepted = 0;
    for (let i = 0; i < attempts; i++) {
      if (await admitted(run)) accepted++;
      clock.advance(stepMs);
    }
    const expected = rate * seconds + burst;
    expect(accepted).toBeGreaterThanOrEqual(expected * 0.9);
    expect(accepted).toBeLessThanOrEqual(expected * 1.1);
    expect(handled).toBe(accepted);
  });

  it('admits a burst at once, then rejects with a retry hint in ms and without running the handler', async () => {
    const clock = manualClock();
    let handled = 0;
    const run = compose([rateLimit({ rate: 10, burst: 3, now: clock.now })], () => {
      handled++;
    });
    for (let i = 0; i < 3; i++) await run(makeContext());
    const err = await rejectionOf(run(makeContext()));
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.ResourceExhausted);
    expect((err as RpcError).metadata[MetadataKey.RetryAfter]).toBe('100');
    expect(handled).toBe(3);
    clock.advance(60);
    expect(((await rejectionOf(run(makeContext()))) as RpcError).metadata[':r']).toBe('40');
    clock.advance(40);
    await run(makeContext());
    expect(handled).toBe(4);
  });

  it('refills lazily up to the burst only', async () => {
    const clock = manualClock();
    const run = compose([rateLimit({ rate: 1, burst: 2, now: clock.now })], () => {});
    clock.advance(3_600_000);
    const results = [await admitted(run), await admitted(run), await admitted(run)];
    expect(results).toEqual([true, true, false]);
  });

  it("keeps one bucket per method with by: 'method'", async () => {
    const clock = manualClock();
    const run = compose([rateLimit({ rate: 1, burst: 1, by: 'method', now: clock.now })], () => {});
    expect(await admitted(run, { method: 'a' })).toBe(true);
    expect(await admitted(run, { method: 'a' })).toBe(false);
    expect(await admitted(run, { method: 'b' })).toBe(true);
    expect(await admitted(run, { service: 'Other', method: 'a' })).toBe(true);
  });

  it("keys by the authenticated subject, else the peer host, with by: 'caller'", async () => {
    const clock = manualClock();
    const verify = staticTokens({ 'token-a': 'alice', 'token-b': 'bob' });
    const run = compose(
      [auth({ verify }), rateLimit({ rate: 1, burst: 1, by: 'caller', now: clock.now })],
      () => {},
    );
    const as = (token: string, peer: string) => ({ metadata: { authorization: `Bearer ${token}` }, peer });
    expect(await admitted(run, as('token-a', '10.0.0.1:1'))).toBe(true);
    expect(await admitted(run, as('token-a', '10.0.0.2:2'))).toBe(false);
    expect(await admitted(run, as('token-b', '10.0.0.1:1'))).toBe(true);

    const anonymous = compose([rateLimit({ rate: 1, burst: 1, by: 'caller', now: clock.now })], () => {});
    expect(await admitted(anonymous, { peer: '10.0.0.9:1000' })).toBe(true);
    expect(await admitted(anonymous, { peer: '10.0.0.9:2000' })).toBe(false);
    expect(await admitted(anonymous, { peer: '10.0.0.8:1000' })).toBe(true);
  });

  it('accepts a custom key function and a custom identity', async () => {
    const clock = manualClock();
    const byTenant = compose(
      [rateLimit({ rate: 1, burst: 1, by: (ctx) => ctx.metadata.tenant ?? 'none', now: clock.now })],
      () => {},
    );
    expect(await admitted(byTenant, { metadata: { tenant: 't1' } })).toBe(true);
    expect(await admitted(byTenant, { metadata: { tenant: 't1' } })).toBe(false);
    expect(await admitted(byTenant, { metadata: { tenant: 't2' } })).toBe(true);

    const byHeader = compose(
      [
        rateLimit({
          rate: 1,
          burst: 1,
          by: 'caller',
          identity: (ctx) => ctx.metadata.key ?? '',
          now: clock.now,
        }),
      ],
      () => {},
    );
    expect(await admitted(byHeader, { metadata: { key: 'k' } })).toBe(true);
    expect(await admitted(byHeader, { metadata: { key: 'k' } })).toBe(false);
  });

  it('refuses invalid options', () => {
    expect(() => rateLimit({ rate: 0, burst: 1 })).toThrow(RangeError);
    expect(() => rateLimit({ rate: Number.POSITIVE_INFINITY, burst: 1 })).toThrow(RangeError);
    expect(() => rateLimit({ rate: 1, burst: 0.5 })).toThrow(RangeError);
    expect(() => rateLimit({ rate: 1, burst: 1, maxKeys: 0 })).toThrow(RangeError);
    expect(() => rateLimit({ rate: Number.NaN, burst: 1 })).toThrow(RangeError);
    expect(() => rateLimit({ rate: 1, burst: Number.NaN })).toThrow(RangeError);
    expect(() => rateLimit({ rate: 1, burst: 1, maxKeys: Number.NaN })).toThrow(RangeError);
    // No bound is no protection against a flood of distinct keys.
    expect(() => rateLimit({ rate: 1, burst: 1, maxKeys: Number.POSITIVE_INFINITY })).toThrow(RangeError);
    // So small that tokens per millisecond underflow to 0: no token would ever come back.
    expect(() => rateLimit({ rate: Number.MIN_VALUE, burst: 1 })).toThrow(RangeError);
  });
});
