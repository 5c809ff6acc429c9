import type { Codec } from '@mini-rpc/codec';
import { jsonCodec } from '@mini-rpc/codec';
import type { Frame, Metadata, RpcError } from '@mini-rpc/protocol';
import { FrameType, MetadataKey } from '@mini-rpc/protocol';
import { connect } from '@mini-rpc/transport';
import { expect } from 'vitest';
import { waitFor } from '../../../tooling/testing/harness.js';

/**
 * A client made of transport's connect() and raw frames, for the server's tests: it sends what a test
 * wants (even bad things) to service `Test` and records every frame and close it sees.
 */
export async function rawClient(port: number, cleanups: { push(fn: () => unknown): void }) {
  const frames: Frame[] = [];
  const closes: (RpcError | undefined)[] = [];
  const conn = await connect(
    { host: '127.0.0.1', port, heartbeatIntervalMs: 0, readTimeoutMs: 0, writeTimeoutMs: 0 },
    {
      onFrame: (f) => frames.push({ ...f, payload: f.payload.slice() }),
      onClose: (e) => closes.push(e),
    },
  );
  cleanups.push(() => conn.close());
  const request = (
    id: number,
    method: string,
    args?: unknown,
    metadata: Metadata = {},
    codec: Codec = jsonCodec,
  ): void =>
    conn.send({
      type: FrameType.Request,
      codec: codec.id,
      id,
      metadata: { [MetadataKey.Service]: 'Test', [MetadataKey.Method]: method, ...metadata },
      payload: codec.encode(args),
    });
  const find = (type: number, id?: number): Frame | undefined =>
    frames.find((f) => f.type === type && (id === undefined || f.id === id));
  const response = async (id: number): Promise<Frame> => {
    await waitFor(() => find(FrameType.Response, id) !== undefined, 3_000, `response ${id}`);
    return find(FrameType.Response, id) as Frame;
  };
  const result = async (id: number, codec: Codec = jsonCodec): Promise<unknown> => {
    const f = await response(id);
    expect(f.metadata[MetadataKey.Status]).toBeUndefined();
    return codec.decode(f.payload);
  };
  return { conn, frames, closes, request, find, response, result };
}
