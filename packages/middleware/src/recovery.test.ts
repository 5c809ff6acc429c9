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
    ['a BigInt', 10n],
    ['a Symbol', Symbol('s')],
    [
      'an object whose toString and toPrimitive throw',
      {
        toString() {
          throw new Error('no');
        },
        [Symbol.toPrimitive]() {
          throw new Error('no');
        },
      },
    ],
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

  it('still answers Internal, without the message, when its logger throws', async () => {
    const logger = {
      error: () => {
        throw new Error('log sink down');
      },
    };
    const err = await rejectionOf(
      compose([recovery({ logger })], () => {
        throw new Error('db password is hunter2');
      })(makeContext()),
    );
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(Code.Internal);
    expect((err as RpcError).rawMessage).toBe('internal error');
  });

  it('answers Internal and still writes a line when pino cannot serialise the error', async () => {
    const out: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        out.push(String(chunk));
        done();
      },
    });
    // pino's err serializer reads every enumerable property; this one throws (a lazy ORM field, say).
    const boom = new Error('secret detail');
    Object.defineProperty(boom, 'row', {
      enumerable: true,
      get() {
        throw new Error('connection closed');
      },
    });
    const err = await rejectionOf(
      compose([recovery({ logger: pino({ level: 'info' }, stream) })], () => {
        throw boom;
      })(makeContext({ service: 'Users', method: 'get' })),
    );
    expect((err as RpcError).code).toBe(Code.Internal);
    expect(String(err)).not.toContain('secret detail');
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(out).toHaveLength(1);
    const line = JSON.parse(out[0]!) as {
      msg: string;
      service: string;
      err: { message: string; stack: string };
    };
    expect(line).toMatchObject({ msg: 'unexpected error in call', service: 'Users' });
    expect(line.err.message).toContain('secret detail');
    expect(line.err.stack).toContain('recovery.test');
  });

  it('answers Internal for a thrown value that throws whenever it is inspected', async () => {
    const logger = recordingLogger();
    const hostile = new Proxy(
      {},
      {
        get() {
          throw new Error('trap');
        },
      },
    );
    const controller = new AbortController();
    controller.abort(new RpcError(Code.Cancelled, 'cancelled by the caller'));
    for (const signal of [new AbortController().signal, controller.signal]) {
      const err = await rejectionOf(
        compose([recovery({ logger })], () => {
          throw hostile;
        })(makeContext({ signal })),
      );
      expect((err as RpcError).code).toBe(Code.Internal);
    }
    expect(logger.lines).toHaveLength(2);
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
