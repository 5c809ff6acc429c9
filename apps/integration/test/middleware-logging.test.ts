import { clientTracing, defaultChain, logging, recovery } from '@mini-rpc/middleware';
import type { ServerContext } from '@mini-rpc/protocol';
import { Code } from '@mini-rpc/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { captureLogs, harness, newRegistry, rejection, SECRET, Shop } from './middleware-fixtures.js';

const h = harness();
afterEach(() => h.cleanup());

const INFO = 30;
const WARN = 40;
const ERROR = 50;

describe('logging through a real server (pino output captured from its stream)', () => {
  it('writes one structured line per call: service, method, code, duration, peer, request id', async () => {
    const shop = new Shop();
    const { logger, lines } = captureLogs();
    const { address } = await h.serve({ middleware: [recovery({ logger }), logging({ logger })] }, [shop]);
    const client = h.connect(address);

    await client.call('Shop', 'add', { a: 1, b: 2 });
    await client.call('Shop', 'work', { ms: 40 });
    expect((await rejection(client.call('Shop', 'missing', { id: 'sku-1' }))).code).toBe(Code.NotFound);
    expect((await rejection(client.call('Shop', 'notReady'))).code).toBe(Code.FailedPrecondition);
    expect((await rejection(client.call('Shop', 'explode'))).code).toBe(Code.Internal);
    await Promise.all([
      client.call('Shop', 'add', { a: 3, b: 4 }),
      client.call('Shop', 'add', { a: 5, b: 6 }),
    ]);

    const calls = lines.filter((l) => l.msg === 'rpc call');
    expect(calls.length).toBe(shop.seen.length); // one line per call that reached the chain
    expect(calls.length).toBe(7);
    // Each line belongs to exactly one call: match them by request id.
    for (const ctx of shop.seen) {
      const mine = calls.filter((l) => l.requestId === ctx.requestId);
      expect(mine.length).toBe(1);
      expect(mine[0]).toMatchObject({ service: 'Shop', method: ctx.method, peer: ctx.peer });
    }
    const byMethod = (m: string) => calls.filter((l) => l.method === m);
    for (const line of calls) {
      expect(typeof line.durationMs).toBe('number');
      expect(line.durationMs as number).toBeGreaterThanOrEqual(0);
      expect(line.durationMs as number).toBeLessThan(5_000);
      expect(line.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    }
    expect(byMethod('add').map((l) => [l.level, l.code, l.codeNumber])).toEqual([
      [INFO, 'OK', Code.OK],
      [INFO, 'OK', Code.OK],
      [INFO, 'OK', Code.OK],
    ]);
    expect(byMethod('add')[0]!.error).toBeUndefined();
    expect(byMethod('work')[0]).toMatchObject({ level: INFO, code: 'OK' });
    expect(byMethod('work')[0]!.durationMs as number).toBeGreaterThanOrEqual(39); // it did 40 ms of work
    // Caller errors at warn, with the message; server errors at error, as the code the caller got.
    expect(byMethod('missing')[0]).toMatchObject({
      level: WARN,
      code: 'NotFound',
      codeNumber: 5,
      error: 'no item sku-1',
    });
    expect(byMethod('notReady')[0]).toMatchObject({
      level: WARN,
      code: 'FailedPrecondition',
      error: 'not ready',
    });
    expect(byMethod('explode')[0]).toMatchObject({
      level: ERROR,
      code: 'Internal',
      codeNumber: Code.Internal,
    });
    // The stack is in recovery's line only, once.
    expect(JSON.stringify(calls)).not.toMatch(/\n\s+at /);
    const stacks = lines.filter((l) => JSON.stringify(l).includes('    at '));
    expect(stacks.length).toBe(1);
    expect(stacks[0]).toMatchObject({ msg: 'unexpected error in call', method: 'explode' });
    expect((stacks[0]!.err as { message: string }).message).toBe(SECRET);
    // Requests over one connection have distinct ids.
    expect(new Set(calls.map((l) => l.requestId)).size).toBe(7);
  });

  it('defaultChain: lines carry the trace id the caller sent, and refused calls are logged too', async () => {
    const shop = new Shop();
    const { logger, lines } = captureLogs();
    const registry = newRegistry();
    const verify = (token: string) => (token === 'good-token-1234' ? { subject: 'svc' } : undefined);
    const { address } = await h.serve(
      // defaultChain logs successes at debug; ask for info so the OK line reaches this info-level logger.
      {
        middleware: defaultChain({
          logger,
          registry,
          tracing: true,
          auth: { verify },
          logging: { levels: { ok: 'info' } },
        }),
      },
      [shop],
    );
    const traced = h.connect(address, { interceptors: [clientTracing()] });
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const ctxs: ServerContext[] = shop.seen;

    await traced.call(
      'Shop',
      'add',
      { a: 1, b: 1 },
      {
        metadata: {
          traceparent: `00-${traceId}-b7ad6b7169203331-01`,
          authorization: 'Bearer good-token-1234',
        },
      },
    );
    expect((await rejection(traced.call('Shop', 'add', { a: 1, b: 1 }))).code).toBe(Code.Unauthenticated);

    const calls = lines.filter((l) => l.msg === 'rpc call');
    expect(calls.length).toBe(2);
    expect(calls[0]).toMatchObject({
      level: INFO,
      code: 'OK',
      traceId,
      requestId: ctxs[0]!.requestId,
      peer: ctxs[0]!.peer,
    });
    expect(calls[1]).toMatchObject({ level: WARN, code: 'Unauthenticated', peer: ctxs[0]!.peer });
    expect(calls[1]!.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(calls[1]!.traceId).not.toBe(traceId);
    expect(calls[1]!.requestId).not.toBe(calls[0]!.requestId);
    expect(shop.runs).toEqual({ add: 1 });
  });
});
