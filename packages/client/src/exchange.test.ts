import { jsonCodec } from '@mini-rpc/codec';
import { Code, RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import type { ClientConnection } from './client-connection.js';
import { Exchange } from './exchange.js';

const schema = { service: 'S', method: 'm', kind: 'response' } as const;

function fakeConnection() {
  const cancelled: number[] = [];
  const conn = { cancel: (id: number) => cancelled.push(id) } as unknown as ClientConnection;
  return { conn, cancelled };
}

/** Records how a promise settles, synchronously readable after a microtask turn. */
function outcome(p: Promise<unknown>) {
  const state = { value: undefined as unknown, error: undefined as RpcError | undefined, settled: false };
  p.then(
    (v) => Object.assign(state, { value: v, settled: true }),
    (e: RpcError) => Object.assign(state, { error: e, settled: true }),
  );
  return state;
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('Exchange', () => {
  it('keeps its absolute deadline for the client sweep, and allocates no timer', async () => {
    const { conn } = fakeConnection();
    const ex = new Exchange(1, conn, jsonCodec, schema, 1_234, undefined);
    expect(ex.deadline).toBe(1_234);
    expect(ex.id).toBe(1);
    expect(ex.responseCodec).toBe(jsonCodec);
    expect(ex.responseSchema).toBe(schema);
  });

  it('settles once: later resolve, reject and expire are ignored', async () => {
    const { conn, cancelled } = fakeConnection();
    const ex = new Exchange(1, conn, jsonCodec, schema, 0, undefined);
    const state = outcome(ex.promise);
    ex.resolve('ok');
    ex.reject(new RpcError(Code.Internal, 'late'));
    ex.expire();
    ex.resolve('again');
    await tick();
    expect(state).toEqual({ value: 'ok', error: undefined, settled: true });
    expect(cancelled).toEqual([]);
  });

  it('expire(): DeadlineExceeded, and the server is told (Cancel)', async () => {
    const { conn, cancelled } = fakeConnection();
    const ex = new Exchange(7, conn, jsonCodec, schema, 0, undefined);
    const state = outcome(ex.promise);
    ex.expire();
    ex.resolve('too late');
    await tick();
    expect(state.error?.code).toBe(Code.DeadlineExceeded);
    expect(state.error?.rawMessage).toBe('deadline exceeded waiting for the response');
    expect(cancelled).toEqual([7]);
  });

  it('abort: Cancelled, the RpcError given as reason, or DeadlineExceeded for a timeout; the server is told', async () => {
    const { conn, cancelled } = fakeConnection();
    const plain = new AbortController();
    const a = outcome(new Exchange(1, conn, jsonCodec, schema, 0, plain.signal).promise);
    plain.abort();
    const custom = new AbortController();
    const b = outcome(new Exchange(2, conn, jsonCodec, schema, 0, custom.signal).promise);
    const reason = new RpcError(Code.Aborted, 'mine');
    custom.abort(reason);
    const timed = new AbortController();
    const c = outcome(new Exchange(3, conn, jsonCodec, schema, 0, timed.signal).promise);
    timed.abort(new DOMException('signal timed out', 'TimeoutError'));
    await tick();
    expect(a.error?.code).toBe(Code.Cancelled);
    expect(b.error).toBe(reason);
    expect(c.error?.code).toBe(Code.DeadlineExceeded);
    expect(cancelled).toEqual([1, 2, 3]);
  });

  it('stops listening to the signal once settled', async () => {
    const { conn, cancelled } = fakeConnection();
    const controller = new AbortController();
    const ex = new Exchange(1, conn, jsonCodec, schema, 0, controller.signal);
    const state = outcome(ex.promise);
    ex.resolve(1);
    controller.abort();
    await tick();
    expect(state.value).toBe(1);
    expect(cancelled).toEqual([]);
  });
});
