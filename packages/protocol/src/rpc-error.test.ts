import { describe, expect, it, vi } from 'vitest';
import type { ProtocolErrorKind } from './index.js';
import { Code, isProtocolError, ProtocolError, RpcError, thrownText } from './index.js';

/** A second, independent copy of the package, as when ESM and CJS builds or two versions are both loaded. */
async function secondCopy(): Promise<typeof import('./index.js')> {
  vi.resetModules();
  const copy = await import('./index.js');
  expect(copy.RpcError).not.toBe(RpcError);
  return copy;
}

describe('RpcError', () => {
  it('carries code, message, metadata, details and cause; the message names the code', () => {
    const cause = new Error('db down');
    const err = new RpcError(Code.Unavailable, 'try later', {
      metadata: { ':r': '50' },
      details: { n: 1 },
      cause,
    });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('RpcError');
    expect(err.message).toBe('[Unavailable] try later');
    expect(err.rawMessage).toBe('try later');
    expect(err.code).toBe(14);
    expect(err.metadata).toEqual({ ':r': '50' });
    expect(err.details).toEqual({ n: 1 });
    expect(err.cause).toBe(cause);
    const bare = new RpcError(Code.NotFound, 'no user 7');
    expect(bare.metadata).toEqual({});
    expect(bare.details).toBeUndefined();
    expect('cause' in bare).toBe(false);
  });

  it('built from plain JS without a message (or with another value), its message is a string', () => {
    const Loose = RpcError as unknown as new (code: Code, message?: unknown) => RpcError;
    expect(new Loose(Code.NotFound).rawMessage).toBe('');
    expect(new Loose(Code.NotFound).message).toBe('[NotFound] ');
    expect(new Loose(Code.NotFound, 42).rawMessage).toBe('42');
    expect(new Loose(Code.NotFound, Object.create(null)).rawMessage).toBe('[object Object]');
  });

  describe('from()', () => {
    it('returns an RpcError as it is', () => {
      const err = new RpcError(Code.NotFound, 'x');
      expect(RpcError.from(err)).toBe(err);
    });

    it('keeps the meaning of AbortSignal reasons', () => {
      const timedOut = new DOMException('The operation timed out.', 'TimeoutError');
      expect(RpcError.from(timedOut)).toMatchObject({ code: Code.DeadlineExceeded, cause: timedOut });
      const aborted = AbortSignal.abort().reason as unknown;
      expect(RpcError.from(aborted)).toMatchObject({ code: Code.Cancelled, cause: aborted });
    });

    it('wraps other errors and values with the fallback code, keeping the message', () => {
      const boom = new TypeError('boom');
      expect(RpcError.from(boom)).toMatchObject({ code: Code.Unknown, rawMessage: 'boom', cause: boom });
      expect(RpcError.from(boom, Code.Internal).code).toBe(Code.Internal);
      expect(RpcError.from('a string')).toMatchObject({ code: Code.Unknown, rawMessage: 'a string' });
      expect(RpcError.from(undefined).rawMessage).toBe('undefined');
    });

    it('never throws, whatever was thrown: a Proxy whose traps throw, an Error whose message getter throws', () => {
      const trap = (): never => {
        throw new Error('trap');
      };
      const hostile = new Proxy({}, { get: trap, getPrototypeOf: trap, has: trap, ownKeys: trap });
      expect(hostile instanceof RpcError).toBe(false);
      const fromProxy = RpcError.from(hostile);
      expect([fromProxy.code, fromProxy.rawMessage]).toEqual([Code.Unknown, '[unprintable value]']);
      expect(fromProxy.cause).toBe(hostile);
      const getter = new Error('hidden');
      Object.defineProperty(getter, 'message', { get: trap });
      const fromGetter = RpcError.from(getter, Code.Internal);
      expect([fromGetter.code, fromGetter.rawMessage]).toEqual([Code.Internal, '[object Error]']);
    });

    it('returns an RpcError from another copy of the package as it is', async () => {
      const copy = await secondCopy();
      const foreign = new copy.RpcError(copy.Code.PermissionDenied, 'no');
      expect(RpcError.from(foreign)).toBe(foreign);
    });
  });

  describe('thrownText()', () => {
    it('gives the text of anything thrown without throwing or building an error', () => {
      const trap = (): never => {
        throw new Error('trap');
      };
      const getter = new Error('hidden');
      Object.defineProperty(getter, 'message', { get: trap });
      expect(thrownText(new RpcError(Code.NotFound, 'no user 7'))).toBe('no user 7');
      expect(thrownText(new TypeError('boom'))).toBe('boom');
      expect(thrownText('a string')).toBe('a string');
      expect(thrownText(10n)).toBe('10');
      expect(thrownText(Object.create(null))).toBe('[object Object]');
      expect(thrownText(getter)).toBe('[object Error]');
      expect(thrownText(new Proxy({}, { get: trap, getPrototypeOf: trap }))).toBe('[unprintable value]');
    });
  });

  describe('fromWire()', () => {
    it('builds the error a peer described, without a cause', () => {
      const err = RpcError.fromWire(5, 'no method', { m: 'sub' }, { a: 'b' });
      expect(err).toMatchObject({ code: Code.NotFound, rawMessage: 'no method', details: { m: 'sub' } });
      expect(err.metadata).toEqual({ a: 'b' });
      expect(err.cause).toBeUndefined();
    });

    it('reads an unknown code number as Unknown', () => {
      for (const code of [17, 99, -1, 2.5, Number.NaN])
        expect(RpcError.fromWire(code, 'x').code).toBe(Code.Unknown);
    });
  });

  describe('instanceof', () => {
    it('holds across two copies of the package, both ways', async () => {
      const copy = await secondCopy();
      const foreign = new copy.RpcError(copy.Code.Internal, 'x');
      expect(foreign instanceof RpcError).toBe(true);
      expect(new RpcError(Code.Internal, 'x') instanceof copy.RpcError).toBe(true);
      expect(foreign instanceof Error).toBe(true);
    });

    it('holds for any object with the registered brand, and for nothing else', () => {
      const fake = {
        get [Symbol.for('@mini-rpc/RpcError')]() {
          return true;
        },
      };
      expect(fake instanceof RpcError).toBe(true);
      expect(new Error('x') instanceof RpcError).toBe(false);
      expect({ code: 2, message: 'x' } instanceof RpcError).toBe(false);
      for (const v of [null, undefined, 0, 'x'])
        expect((v as unknown as object) instanceof RpcError).toBe(false);
    });

    it('keeps the ordinary prototype check for subclasses', async () => {
      class QuotaError extends RpcError {
        constructor() {
          super(Code.ResourceExhausted, 'quota');
        }
      }
      const quota = new QuotaError();
      expect(quota instanceof QuotaError).toBe(true);
      expect(quota instanceof RpcError).toBe(true);
      expect(new RpcError(Code.ResourceExhausted, 'q') instanceof QuotaError).toBe(false);
      expect(new ProtocolError('bad_magic', 'x') instanceof QuotaError).toBe(false);
      const copy = await secondCopy();
      expect(new copy.ProtocolError('bad_type', 'x') instanceof RpcError).toBe(true);
    });
  });
});

describe('ProtocolError', () => {
  it('maps each kind to the code of docs/protocol.md §6', () => {
    const kinds: Record<ProtocolErrorKind, Code> = {
      bad_magic: Code.InvalidArgument,
      bad_version: Code.InvalidArgument,
      bad_type: Code.InvalidArgument,
      bad_codec: Code.InvalidArgument,
      bad_request_id: Code.InvalidArgument,
      payload_too_large: Code.ResourceExhausted,
      metadata_too_large: Code.ResourceExhausted,
      metadata_overrun: Code.InvalidArgument,
      bad_utf8: Code.InvalidArgument,
      truncated: Code.InvalidArgument,
    };
    for (const [kind, code] of Object.entries(kinds) as [ProtocolErrorKind, Code][]) {
      const err = new ProtocolError(kind, 'detail');
      expect(err).toMatchObject({ kind, code, name: 'ProtocolError' });
      expect(err.rawMessage).toBe(`protocol error (${kind}): detail`);
      expect(err).toBeInstanceOf(RpcError);
    }
  });

  it('is recognised by isProtocolError across copies, and only it', async () => {
    const copy = await secondCopy();
    expect(isProtocolError(new copy.ProtocolError('truncated', 'x'))).toBe(true);
    expect(isProtocolError(new ProtocolError('truncated', 'x'))).toBe(true);
    expect(isProtocolError(new RpcError(Code.InvalidArgument, 'x'))).toBe(false);
    expect(isProtocolError(Object.assign(new Error('x'), { kind: 'bad_magic' }))).toBe(false);
  });
});
