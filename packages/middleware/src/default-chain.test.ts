import { Writable } from 'node:stream';
import { defaultChain, hmacTokens, signHmacToken } from '@mini-rpc/middleware';
import { Code, RpcError } from '@mini-rpc/protocol';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { compose, makeContext, recordingLogger, rejectionOf } from '../test/compose.js';

const SECRET = 'default-chain-secret-of-at-least-32-bytes';

function setup() {
  const logger = recordingLogger();
  const registry = new Registry();
  let t = 0;
  const chain = defaultChain({
    logger,
    registry,
    auth: { verify: hmacTokens({ secret: SECRET }) },
    rateLimit: { rate: 1, burst: 2, by: 'caller', now: () => t },
  });
  let handled = 0;
  const run = compose(chain, (ctx) => {
    handled++;
    if (ctx.method === 'crash') throw new Error('bug in handler');
    return 'ok';
  });
  const token = signHmacToken({ subject: 'alice', ttlMs: 60_000 }, SECRET);
  const authed = (method = 'get') => makeContext({ method, metadata: { authorization: `Bearer ${token}` } });
  const codes = async () => {
    const metric = await registry.getSingleMetric('mini_rpc_server_requests_total')?.get();
    return Object.fromEntries(
      metric?.values.map((v) => [`${v.labels.method}:${v.labels.code}`, v.value]) ?? [],
    );
  };
  return {
    chain,
    logger,
    run,
    authed,
    codes,
    handled: () => handled,
    tick: (ms: number) => {
      t += ms;
    },
  };
}

describe('defaultChain', () => {
  it('builds recovery → logging → metrics → auth → rateLimit, adding tracing after recovery on request', () => {
    const logger = recordingLogger();
    expect(defaultChain({ logger, registry: new Registry() })).toHaveLength(3);
    expect(setup().chain).toHaveLength(5);
    expect(defaultChain({ logger, registry: new Registry(), tracing: true })).toHaveLength(4);
    // A configuration flag passed through as is: false means no tracing.
    expect(defaultChain({ logger, registry: new Registry(), tracing: false })).toHaveLength(3);
  });

  it('serves, rejects and recovers with consistent logs and metrics', async () => {
    const s = setup();
    await s.run(s.authed());
    await s.run(s.authed());
    const limited = (await rejectionOf(s.run(s.authed()))) as RpcError;
    expect(limited.code).toBe(Code.ResourceExhausted);
    const anonymous = (await rejectionOf(s.run(makeContext({ method: 'get' })))) as RpcError;
    expect(anonymous.code).toBe(Code.Unauthenticated);
    s.tick(1_000);
    const crashed = (await rejectionOf(s.run(s.authed('crash')))) as RpcError;
    expect(crashed.code).toBe(Code.Internal);
    expect(crashed.rawMessage).toBe('internal error');

    expect(s.handled()).toBe(3);
    expect(await s.codes()).toEqual({
      'get:OK': 2,
      'get:ResourceExhausted': 1,
      'get:Unauthenticated': 1,
      'crash:Internal': 1,
    });
    const lines = s.logger.lines.map((l) => `${l.level} ${l.msg} ${l.obj.code ?? ''}`.trim());
    expect(lines).toEqual([
      'debug rpc call OK',
      'debug rpc call OK',
      'warn rpc call ResourceExhausted',
      'warn rpc call Unauthenticated',
      'error rpc call Internal',
      'error unexpected error in call',
    ]);
  });

  it('turns unauthenticated callers away before they take rate-limit tokens', async () => {
    const s = setup();
    for (let i = 0; i < 10; i++) await rejectionOf(s.run(makeContext()));
    await s.run(s.authed());
    await s.run(s.authed());
    expect(s.handled()).toBe(2);
  });

  it('answers Internal, logs, counts and frees in_flight for errors that throw when inspected (real pino)', async () => {
    const out: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        out.push(String(chunk));
        done();
      },
    });
    const registry = new Registry();
    const lazy = new Error('row gone');
    Object.defineProperty(lazy, 'row', {
      enumerable: true,
      get() {
        throw new Error('connection closed');
      },
    });
    class Nameless extends Error {
      override get name(): string {
        throw new Error('no name');
      }
    }
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
      },
    );
    const chain = defaultChain({ logger: pino({ level: 'info' }, stream), registry, tracing: true });
    for (const thrown of [lazy, new Nameless('x'), hostile]) {
      const err = (await rejectionOf(
        compose(chain, () => {
          throw thrown;
        })(makeContext({ service: 'Odd', method: 'm' })),
      )) as RpcError;
      expect([err.code, err.rawMessage]).toEqual([Code.Internal, 'internal error']);
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
    const lines = out.map((l) => JSON.parse(l) as { msg: string; code?: string });
    expect(lines.filter((l) => l.msg === 'unexpected error in call')).toHaveLength(3);
    expect(lines.filter((l) => l.msg === 'rpc call' && l.code === 'Internal')).toHaveLength(3);
    const metric = await registry.getSingleMetric('mini_rpc_server_in_flight')?.get();
    expect(metric?.values.find((v) => v.labels.service === 'Odd')?.value).toBe(0);
    const total = await registry.getSingleMetric('mini_rpc_server_requests_total')?.get();
    expect(total?.values.find((v) => v.labels.code === 'Internal')?.value).toBe(3);
  });

  it('rethrows RpcErrors of the handler unchanged', async () => {
    const logger = recordingLogger();
    const original = new RpcError(Code.FailedPrecondition, 'not yet');
    const run = compose(defaultChain({ logger, registry: new Registry() }), () => {
      throw original;
    });
    expect(await rejectionOf(run(makeContext()))).toBe(original);
  });
});
