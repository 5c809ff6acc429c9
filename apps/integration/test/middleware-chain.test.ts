import { INTERNAL_ERROR_MESSAGE, recovery } from '@mini-rpc/middleware';
import type { ServerContext, ServerMiddleware } from '@mini-rpc/protocol';
import { Code } from '@mini-rpc/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from './helpers.js';
import {
  captureLogs,
  harness,
  recordingServerLogger,
  rejection,
  SECRET,
  Shop,
} from './middleware-fixtures.js';

const h = harness();
afterEach(() => h.cleanup());

/** A middleware that records entering and leaving, and whether the handler's result was there yet. */
function tag(name: string, order: string[]): ServerMiddleware {
  return async (ctx, next) => {
    order.push(`${name}>${ctx.result === undefined ? '' : '!'}`);
    try {
      await next();
    } finally {
      order.push(`<${name}${ctx.result === undefined ? '' : '='}`);
    }
  };
}

describe('server middleware order through a real server', () => {
  it('runs global, per-service and per-method middleware in onion order, first registered outermost', async () => {
    const order: string[] = [];
    const shop = new Shop();
    const { server, address } = await h.serve({ middleware: [tag('g1', order), tag('g2', order)] }, [shop]);
    const client = h.connect(address);

    expect(await client.call('Shop', 'add', { a: 1, b: 2 })).toBe(3);
    expect(order).toEqual(['g1>', 'g2>', '<g2=', '<g1=']);

    // Added after the server has served calls: later calls use the new chain.
    server.use(tag('g3', order));
    server.useFor('Shop.add', tag('m1', order));
    server.useFor('Shop', tag('s1', order), tag('s2', order));
    server.useFor('Shop.missing', tag('other-method', order));
    server.useFor('Elsewhere', tag('other-service', order));
    order.length = 0;
    expect(await client.call('Shop', 'add', { a: 2, b: 2 })).toBe(4);
    // Scoped middleware runs inside the global ones, the service's before the method's, whatever the order
    // of the useFor calls; every step leaves after the handler set ctx.result ('=').
    expect(order).toEqual([
      'g1>',
      'g2>',
      'g3>',
      's1>',
      's2>',
      'm1>',
      '<m1=',
      '<s2=',
      '<s1=',
      '<g3=',
      '<g2=',
      '<g1=',
    ]);
    expect(shop.runs.add).toBe(2);

    order.length = 0;
    const err = await rejection(client.call('Shop', 'missing', { id: 'x' }));
    expect(err.code).toBe(Code.NotFound);
    expect(order).toEqual([
      'g1>',
      'g2>',
      'g3>',
      's1>',
      's2>',
      'other-method>',
      '<other-method',
      '<s2',
      '<s1',
      '<g3',
      '<g2',
      '<g1',
    ]);
  });

  it('a middleware that throws stops the chain: inner steps and the handler never run', async () => {
    const order: string[] = [];
    const shop = new Shop();
    const gate: ServerMiddleware = async () => {
      order.push('gate');
      throw new Error('gate closed');
    };
    const { server, address } = await h.serve(
      { middleware: [tag('outer', order), gate, tag('inner', order)] },
      [shop],
    );
    server.useFor('Shop', tag('service', order));
    const err = await rejection(h.connect(address).call('Shop', 'add', { a: 1, b: 1 }));
    expect(err.code).toBe(Code.Unknown); // no recovery installed: the server's fallback
    expect(order).toEqual(['outer>', 'gate', '<outer']);
    expect(shop.runs.add).toBeUndefined();
  });

  it('every step sees the call: service, method, decoded args, result, metadata, peer, deadline, shared state', async () => {
    const shop = new Shop();
    const seen: { phase: string; ctx: ServerContext; args: unknown; result: unknown }[] = [];
    const look =
      (phase: string): ServerMiddleware =>
      async (ctx, next) => {
        seen.push({ phase: `${phase}:before`, ctx, args: structuredClone(ctx.args), result: ctx.result });
        await next();
        seen.push({ phase: `${phase}:after`, ctx, args: structuredClone(ctx.args), result: ctx.result });
      };
    const outer: ServerMiddleware = async (ctx, next) => {
      ctx.state.tenant = ctx.metadata['x-tenant'];
      await next();
      ctx.result = (ctx.result as number) * 100; // an outer step may rewrite what the caller gets
    };
    const tenantsSeenInside: unknown[] = [];
    const inner: ServerMiddleware = async (ctx, next) => {
      tenantsSeenInside.push(ctx.state.tenant);
      ctx.args = { ...(ctx.args as object), b: 10 }; // and an inner one what the handler gets
      await next();
    };
    const { server, port, address } = await h.serve({ middleware: [outer, look('global')] }, [shop]);
    server.useFor('Shop.add', inner, look('method'));
    const client = h.connect(address);

    const t0 = Date.now();
    const result = await client.call(
      'Shop',
      'add',
      { a: 2, b: 3 },
      { timeoutMs: 4_000, metadata: { 'x-tenant': 'acme' } },
    );
    const t1 = Date.now();
    expect(result).toBe(1_200); // (2 + 10) * 100

    expect(seen.map((s) => s.phase)).toEqual([
      'global:before',
      'method:before',
      'method:after',
      'global:after',
    ]);
    const ctx = seen[0]!.ctx;
    for (const s of seen) expect(s.ctx).toBe(ctx); // one context through the whole chain…
    expect(shop.seen).toEqual([ctx]); // …and the handler
    expect(ctx.service).toBe('Shop');
    expect(ctx.method).toBe('add');
    expect(seen[0]!.args).toEqual({ a: 2, b: 3 });
    expect(seen[1]!.args).toEqual({ a: 2, b: 10 });
    expect(seen.map((s) => s.result)).toEqual([undefined, undefined, 12, 12]);
    expect(ctx.metadata['x-tenant']).toBe('acme');
    expect(ctx.metadata[':s']).toBe('Shop');
    expect(ctx.metadata[':m']).toBe('add');
    expect(tenantsSeenInside).toEqual(['acme']);
    expect(Number.isInteger(ctx.requestId) && ctx.requestId > 0).toBe(true);

    // The deadline is the caller's: arrival + the time left it sent, so within [t0, t1] + 4 s.
    expect(ctx.deadline).toBeGreaterThanOrEqual(t0 + 4_000);
    expect(ctx.deadline).toBeLessThanOrEqual(t1 + 4_000 + 1);
    // An absolute deadline: the server's is at most the transit time (+1 ms of rounding) later.
    const before = Date.now();
    const absolute = before + 2_500;
    await client.call('Shop', 'add', { a: 0, b: 0 }, { deadline: absolute, timeoutMs: 60_000 });
    expect(shop.seen[1]!.deadline).toBeGreaterThanOrEqual(absolute);
    expect(shop.seen[1]!.deadline).toBeLessThanOrEqual(absolute + (Date.now() - before) + 1);

    // The peer is the client's end of its connection: loopback, not the server's port, the same for calls
    // over one connection and another one for a second client.
    const peer = /^127\.0\.0\.1:(\d+)$/.exec(ctx.peer);
    expect(peer).not.toBeNull();
    expect(Number(peer![1])).not.toBe(port);
    expect(shop.seen[1]!.peer).toBe(ctx.peer);
    await h.connect(address).call('Shop', 'add', { a: 0, b: 0 });
    expect(shop.seen[2]!.peer).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(shop.seen[2]!.peer).not.toBe(ctx.peer);
  });
});

describe('recovery through a real server', () => {
  async function guarded() {
    const shop = new Shop();
    const logs = captureLogs();
    const serverLog = recordingServerLogger();
    const { server, address } = await h.serve(
      { middleware: [recovery({ logger: logs.logger })], logger: serverLog.logger },
      [shop],
    );
    const client = h.connect(address);
    return { shop, logs, serverLog, server, client };
  }

  it('keeps the server alive across throwing, rejecting and non-Error-throwing handlers; callers see no internals', async () => {
    const { shop, logs, serverLog, client } = await guarded();
    for (const failing of ['explode', 'rejects', 'throwsValue'] as const) {
      const err = await rejection(client.call('Shop', failing, {}));
      expect(err.code).toBe(Code.Internal);
      expect(err.rawMessage).toBe(INTERNAL_ERROR_MESSAGE);
      expect(err.details).toBeUndefined();
      const everything = JSON.stringify([err.message, err.rawMessage, err.metadata, err.details]);
      expect(everything).not.toContain('hunter2');
      expect(everything).not.toMatch(/\n\s+at |\.ts:\d+|Shop\./);
      // The server still serves.
      expect(await client.call('Shop', 'add', { a: 1, b: 1 })).toBe(2);
    }
    expect(shop.runs).toMatchObject({ explode: 1, rejects: 1, throwsValue: 1, add: 3 });

    // Each failure is logged exactly once, by recovery, with the original error and the call's identity.
    const errors = logs.lines.filter((l) => l.level === 50);
    expect(errors.map((l) => l.method)).toEqual(['explode', 'rejects', 'throwsValue']);
    expect(serverLog.errors).toEqual([]); // the server itself got an RpcError: it logs nothing more
    for (const [i, line] of errors.entries()) {
      expect(line).toMatchObject({ msg: 'unexpected error in call', service: 'Shop' });
      expect(line.requestId).toBe(shop.seen.find((c) => c.method === line.method)!.requestId);
      expect(line.peer).toBe(shop.seen[0]!.peer);
      const logged = line.err as { message: string; stack?: string; type: string };
      if (i < 2) {
        expect(logged.message).toBe(SECRET);
        expect(logged.type).toBe(i === 0 ? 'Error' : 'TypeError');
        expect(logged.stack).toContain(SECRET);
        expect(logged.stack).toMatch(/\n\s+at .*(explode|rejects)/);
      } else {
        expect(logged.message).toContain('non-Error thrown');
      }
    }
  });

  it('a hanging handler: the caller gets DeadlineExceeded, the handler signal aborts, the next call works', async () => {
    const { shop, logs, client } = await guarded();
    const t0 = performance.now();
    const err = await rejection(client.call('Shop', 'hang', {}, { timeoutMs: 300 }));
    const waited = performance.now() - t0;
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(waited).toBeGreaterThanOrEqual(290);
    expect(waited).toBeLessThan(3_000);
    await waitFor(() => shop.aborts.length === 1, 3_000, 'the handler signal to abort');
    // Aborted by the server's own deadline or by the Cancel the client sends when it gives up.
    expect([Code.DeadlineExceeded, Code.Cancelled]).toContain((shop.aborts[0] as { code: number }).code);
    expect(await client.call('Shop', 'add', { a: 20, b: 22 })).toBe(42);
    // Deadline fallout is not a bug: recovery logs nothing for it.
    expect(logs.lines.filter((l) => l.level === 50)).toEqual([]);
  });

  it('the server forgets a call whose caller gave up, even if its handler never settles (protocol.md 3.4)', async () => {
    // docs/protocol.md §3.4: on Cancel "the server aborts that handler's signal, sends no Response for it,
    // and forgets the id". A handler that ignores its aborted signal must not keep the call counted in flight
    // (it holds a maxInFlightPerConnection slot, and close() waits the whole grace period for it).
    const { shop, server, client } = await guarded();
    await rejection(client.call('Shop', 'hang', {}, { timeoutMs: 200 }));
    await waitFor(() => shop.aborts.length === 1, 3_000, 'the handler signal to abort');
    expect(await client.call('Shop', 'add', { a: 1, b: 1 })).toBe(2);
    await waitFor(() => server.inFlight === 0, 2_000, `server.inFlight to drop to 0 (is ${server.inFlight})`);
  });
});
