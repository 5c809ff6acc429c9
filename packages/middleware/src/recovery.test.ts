import { Writable } from 'node:stream';
import { recovery } from '@mini-rpc/middleware';
import type { ServerMiddleware } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { compose, makeContext, recordingLogger, rejectionOf } from '../test/compose.js';

// A handler that never settles is deliberately not recovery's concern: the server aborts ctx.signal at the
// deadline and answers DeadlineExceeded itself (server tests cover it). recovery only converts what is thrown.
describe('recovery', () => {
  it('passes an RpcError through unchanged and logs nothing', async () => {
    const logger = recordingLogger();
    const original = new RpcError(Code.NotFound, 'no such user');
    const err = await rejectionOf(
      compose([recovery({ logger })], () => {
        throw original;
      })(makeContext()),
    );
    expect(err).toBe(original);
    expect(logger.lines).toHaveLength(0);
  });

  it('turns a thrown Error into Internal, keeps it as cause and logs its stack once', async () => {
    const logger = recordingLogger();
    const boom = new Error('db password is hunter2');
    const ctx = makeContext({ service: 'Users', method: 'get', requestId: 7, peer: '10.0.0.1:4000' });
    const err = await rejectionOf(
      compose([recovery({ logger })], () => {
        throw boom;
      })(ctx),
    );
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.Internal);
    expect((err as RpcError).rawMessage).toBe('internal error');
    expect((err as RpcError).message).not.toContain('hunter2');
    expect((err as RpcError).cause).toBe(boom);
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatchObject({
      level: 'error',
      obj: { err: boom, service: 'Users', method: 'get', requestId: 7, peer: '10.0.0.1:4000' },
    });
  });

  it('handles a rejected promise the same way', async () => {
    const logger = recordingLogger();
    const err = await rejectionOf(
      compose([recovery({ logger })], () => Promise.reject(new TypeError('x is undefined')))(makeContext()),
    );
    expect((err as RpcError).code).toBe(Code.Internal);
    expect(logger.lines).toHaveLength(1);
  });

  it.each([
    ['a string', 'oops'],
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['an object without prototype', Object.create(null)],
  ])('handles %s being thrown', async (_, thrown) => {
    const logger = recordingLogger();
    const err = await rejectionOf(
      compose([recovery({ logger })], () => {
        throw thrown;
      })(makeContext()),
    );
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.Internal);
    expect((err as RpcError).cause).toBe(thrown);
    expect(logger.lines).toHaveLength(1);
    expect((logger.lines[0]?.obj.err as { message?: string } | undefined)?.message).toMatch(
      /^non-Error thrown: /,
    );
  });

  it('catches a middleware that throws synchronously instead of rejecting', async () => {
    const logger = recordingLogger();
    const sync: ServerMiddleware = () => {
      throw new Error('sync');
    };
    const err = await rejectionOf(compose([recovery({ logger }), sync], () => 'unreached')(makeContext()));
    expect((err as RpcError).code).toBe(Code.Internal);
  });

  it('maps the fallout of the call’s own deadline to DeadlineExceeded without logging', async () => {
    const logger = recordingLogger();
    const controller = new AbortController();
    controller.abort(new DOMException('deadline passed', 'TimeoutError'));
    const err = await rejectionOf(
      compose([recovery({ logger })], (ctx) => {
        ctx.signal.throwIfAborted();
      })(makeContext({ signal: controller.signal })),
    );
    expect((err as RpcError).code).toBe(Code.DeadlineExceeded);
    expect(logger.lines).toHaveLength(0);
  });

  it('logs once even when installed twice', async () => {
    const logger = recordingLogger();
    const err = await rejectionOf(
      compose([recovery({ logger }), recovery({ logger })], () => {
        throw new Error('boom');
      })(makeContext()),
    );
    expect((err as RpcError).code).toBe(Code.Internal);
    expect(logger.lines).toHaveLength(1);
  });

  it('lets a successful call through with its result', async () => {
    const ctx = makeContext();
    await compose([recovery({ logger: recordingLogger() })], () => 'hi')(ctx);
    expect(ctx.result).toBe('hi');
  });

  it('writes the stack through a real pino logger, and only the safe message to the caller', async () => {
    const out: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        out.push(String(chunk));
        done();
      },
    });
    const logger = pino({ level: 'info' }, stream);
    const err = await rejectionOf(
      compose([recovery({ logger })], function handlerThatFails() {
        throw new Error('secret detail');
      })(makeContext()),
    );
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(out).toHaveLength(1);
    const line = JSON.parse(out[0]!) as {
      level: number;
      msg: string;
      err: { stack: string; message: string };
    };
    expect(line.level).toBe(50);
    expect(line.err.message).toBe('secret detail');
    expect(line.err.stack).toContain('handlerThatFails');
    expect(String(err)).not.toContain('secret detail');
  });
});
