import { Writable } from 'node:stream';
import { logging, recovery } from '@mini-rpc/middleware';
import { Code, RpcError } from '@mini-rpc/protocol';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { compose, makeContext, recordingLogger, rejectionOf } from '../test/compose.js';

describe('logging', () => {
  it('writes one structured line per successful call at info', async () => {
    const logger = recordingLogger();
    const ctx = makeContext({ service: 'Users', method: 'get', requestId: 9, peer: '10.1.2.3:5555' });
    await compose([logging({ logger })], () => 'ok')(ctx);
    expect(logger.lines).toHaveLength(1);
    const [line] = logger.lines;
    expect(line?.level).toBe('info');
    expect(line?.msg).toBe('rpc call');
    expect(line?.obj).toMatchObject({
      service: 'Users',
      method: 'get',
      code: 'OK',
      codeNumber: 0,
      peer: '10.1.2.3:5555',
      requestId: 9,
    });
    expect(line?.obj.durationMs).toBeTypeOf('number');
    expect(line?.obj.durationMs).toBeGreaterThanOrEqual(0);
    expect(line?.obj).not.toHaveProperty('error');
  });

  it('logs caller errors at warn and server errors at error, with the message', async () => {
    const logger = recordingLogger();
    const run = (err: unknown) =>
      rejectionOf(compose([logging({ logger })], () => Promise.reject(err))(makeContext()));
    await run(new RpcError(Code.NotFound, 'no user 7'));
    await run(new RpcError(Code.Unavailable, 'db down'));
    await run(new Error('plain'));
    expect(logger.lines.map((l) => [l.level, l.obj.code, l.obj.codeNumber, l.obj.error])).toEqual([
      ['warn', 'NotFound', 5, 'no user 7'],
      ['error', 'Unavailable', 14, 'db down'],
      ['error', 'Unknown', 2, 'plain'],
    ]);
  });

  it('reports Internal for an unexpected error when recovery runs outside it', async () => {
    const logger = recordingLogger();
    await rejectionOf(
      compose([recovery({ logger: recordingLogger() }), logging({ logger })], () => {
        throw new Error('bug');
      })(makeContext()),
    );
    expect(logger.lines[0]?.obj).toMatchObject({ code: 'Internal', codeNumber: Code.Internal });
  });

  it('honours custom levels', async () => {
    const logger = recordingLogger();
    const mw = logging({ logger, levels: { ok: 'debug', clientError: 'info' } });
    await compose([mw], () => 1)(makeContext());
    await rejectionOf(
      compose([mw], () => Promise.reject(new RpcError(Code.InvalidArgument, 'bad')))(makeContext()),
    );
    await rejectionOf(compose([mw], () => Promise.reject(new RpcError(Code.Internal, 'bad')))(makeContext()));
    expect(logger.lines.map((l) => l.level)).toEqual(['debug', 'info', 'error']);
  });

  it('samples successes with the injected random source and always logs failures', async () => {
    const logger = recordingLogger();
    let i = 0;
    // 0, 0.1, …, 0.9 repeating: three of every ten draws (0, 0.1, 0.2) fall below 0.25.
    const random = () => (i++ % 10) / 10;
    const mw = logging({ logger, sampleRate: 0.25, random });
    const ok = compose([mw], () => 'ok');
    for (let n = 0; n < 100; n++) await ok(makeContext());
    expect(logger.lines).toHaveLength(30);
    const failing = compose([mw], () => Promise.reject(new RpcError(Code.Unavailable, 'x')));
    for (let n = 0; n < 10; n++) await rejectionOf(failing(makeContext()));
    expect(logger.lines.filter((l) => l.level === 'error')).toHaveLength(10);
  });

  it('logs no success at sampleRate 0 but still logs failures', async () => {
    const logger = recordingLogger();
    const mw = logging({ logger, sampleRate: 0 });
    await compose([mw], () => 'ok')(makeContext());
    await rejectionOf(compose([mw], () => Promise.reject(new Error('x')))(makeContext()));
    expect(logger.lines.map((l) => l.level)).toEqual(['error']);
  });

  it('does no work when every configured level is disabled: next() is returned as is', async () => {
    const logger = recordingLogger(['fatal']);
    const mw = logging({ logger });
    const promise = Promise.resolve();
    expect(mw(makeContext(), () => promise)).toBe(promise);
    await rejectionOf(compose([mw], () => Promise.reject(new Error('x')))(makeContext()));
    expect(logger.lines).toHaveLength(0);
  });

  it('skips successes when info is disabled but still logs errors', async () => {
    const logger = recordingLogger(['warn', 'error']);
    const mw = logging({ logger });
    await compose([mw], () => 'ok')(makeContext());
    await rejectionOf(compose([mw], () => Promise.reject(new RpcError(Code.NotFound, 'x')))(makeContext()));
    expect(logger.lines.map((l) => l.level)).toEqual(['warn']);
  });

  it('adds the trace id when tracing ran first', async () => {
    const logger = recordingLogger();
    const ctx = makeContext();
    ctx.state.trace = { traceId: 'a'.repeat(32) };
    await compose([logging({ logger })], () => 'ok')(ctx);
    expect(logger.lines[0]?.obj.traceId).toBe('a'.repeat(32));
  });

  it('never lets a throwing logger change the outcome of a call', async () => {
    const fail = () => {
      throw new Error('log sink down');
    };
    const logger = { info: fail, warn: fail, error: fail };
    const ctx = makeContext();
    await compose([logging({ logger })], () => 'ok')(ctx);
    expect(ctx.result).toBe('ok');
    const original = new RpcError(Code.NotFound, 'no user 7');
    const err = await rejectionOf(
      compose([logging({ logger })], () => Promise.reject(original))(makeContext()),
    );
    expect(err).toBe(original);
  });

  it('logs an error whose message cannot be read, and rethrows it unchanged', async () => {
    const logger = recordingLogger();
    const odd = new Error('x');
    Object.defineProperty(odd, 'message', {
      get() {
        throw new Error('no message');
      },
    });
    const err = await rejectionOf(compose([logging({ logger })], () => Promise.reject(odd))(makeContext()));
    expect(err).toBe(odd);
    expect(logger.lines.map((l) => l.level)).toEqual(['error']);
  });

  it('rejects a bad sampleRate and a logger without a configured level', () => {
    expect(() => logging({ logger: recordingLogger(), sampleRate: 1.5 })).toThrow(RangeError);
    expect(() => logging({ logger: recordingLogger(), sampleRate: Number.NaN })).toThrow(RangeError);
    expect(() => logging({ logger: { info: () => {} } })).toThrow(/no warn method/);
  });

  it('works with a real pino logger and its level switch', async () => {
    const out: string[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        out.push(String(chunk));
        done();
      },
    });
    const logger = pino({ level: 'info' }, stream);
    const mw = logging({ logger });
    await compose([mw], () => 'ok')(makeContext({ service: 'S', method: 'm' }));
    logger.level = 'warn';
    await compose([mw], () => 'ok')(makeContext());
    logger.level = 'info';
    await compose([mw], () => 'ok')(makeContext({ service: 'S', method: 'again' }));
    await new Promise<void>((resolve) => setImmediate(resolve));
    // The level is followed as it changes: on, off, on again.
    expect(out.map((l) => JSON.parse(l).method)).toEqual(['m', 'again']);
    expect(JSON.parse(out[0]!)).toMatchObject({
      level: 30,
      msg: 'rpc call',
      service: 'S',
      method: 'm',
      code: 'OK',
    });
  });
});
