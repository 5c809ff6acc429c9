import type { ServerContext, ServerMiddleware } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { runChain } from './index.js';

const ctx = {} as ServerContext;

describe('runChain', () => {
  it('runs in onion order: the first middleware is the outermost', async () => {
    const log: string[] = [];
    const step =
      (name: string): ServerMiddleware =>
      async (_ctx, next) => {
        log.push(`${name} in`);
        await next();
        log.push(`${name} out`);
      };
    await runChain([step('a'), step('b'), step('c')], ctx, async () => {
      log.push('handler');
    });
    expect(log).toEqual(['a in', 'b in', 'c in', 'handler', 'c out', 'b out', 'a out']);
  });

  it('with no middleware runs the terminal alone', async () => {
    let ran = 0;
    await runChain([], ctx, async () => {
      ran++;
    });
    expect(ran).toBe(1);
  });

  it('a middleware that does not call next() stops the chain', async () => {
    let handler = 0;
    await runChain([async () => {}], ctx, async () => {
      handler++;
    });
    expect(handler).toBe(0);
  });

  it('next() called twice rejects with Internal, and the handler runs once', async () => {
    let handler = 0;
    let second: unknown;
    const twice: ServerMiddleware = async (_ctx, next) => {
      await next();
      second = await next().catch((e: unknown) => e);
    };
    await runChain([twice], ctx, async () => {
      handler++;
    });
    expect(handler).toBe(1);
    expect(second).toBeInstanceOf(RpcError);
    expect((second as RpcError).code).toBe(Code.Internal);
    expect((second as RpcError).rawMessage).toBe('middleware called next() more than once');
  });

  it('an inner next() called again by an outer middleware is refused too', async () => {
    let handler = 0;
    let again: unknown;
    let savedNext: (() => Promise<void>) | undefined;
    const outer: ServerMiddleware = async (_ctx, next) => {
      await next();
      again = await savedNext?.().catch((e: unknown) => e);
    };
    const inner: ServerMiddleware = async (_ctx, next) => {
      savedNext = next;
      await next();
    };
    await runChain([outer, inner], ctx, async () => {
      handler++;
    });
    expect(handler).toBe(1);
    expect((again as RpcError).code).toBe(Code.Internal);
  });

  it('a synchronous throw and a rejection both reject the chain; outer middleware can catch them', async () => {
    const boom = new Error('sync boom');
    const sync: ServerMiddleware = () => {
      throw boom;
    };
    await expect(runChain([sync], ctx, async () => {})).rejects.toBe(boom);
    await expect(
      runChain([], ctx, async () => {
        throw new RpcError(Code.NotFound, 'x');
      }),
    ).rejects.toMatchObject({ code: Code.NotFound });
    let caught: unknown;
    const recover: ServerMiddleware = async (_ctx, next) => {
      try {
        await next();
      } catch (err) {
        caught = err;
      }
    };
    await runChain([recover, sync], ctx, async () => {});
    expect(caught).toBe(boom);
  });

  it('every step sees the same context', async () => {
    const seen: unknown[] = [];
    const look: ServerMiddleware = async (c, next) => {
      seen.push(c);
      await next();
    };
    await runChain([look, look], ctx, async () => {});
    expect(seen).toEqual([ctx, ctx]);
  });
});
