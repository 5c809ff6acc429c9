import type { Frame } from '@mini-rpc/protocol';
import { CodecId, FrameType, MetadataKey } from '@mini-rpc/protocol';
import { expect, it, vi } from 'vitest';
import { readReadmeSnippet } from '../../../tooling/testing/readme-snippet.js';
import { connect, createConnection, listen } from './index.js';

const README = new URL('../README.md', import.meta.url);

const IMPORTS = [
  "import type { Frame } from '@mini-rpc/protocol';",
  "import { CodecId, FrameType, MetadataKey } from '@mini-rpc/protocol';",
  "import { connect, createConnection, listen } from '@mini-rpc/transport';",
];

it('README snippet runs and prints what its comment says', async () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    // #region readme
    // Server side: every accepted socket becomes a framed connection; this one echoes each Request.
    const listener = await listen({
      port: 0,
      onSocket: (socket) =>
        createConnection(socket, {
          onFrame: (frame, conn) =>
            conn.send({ type: FrameType.Response, codec: frame.codec, id: frame.id, payload: frame.payload }),
        }),
    });

    // Client side: frames sent in one event-loop turn leave in one socket write.
    let onReply!: (frame: Frame) => void;
    const reply = new Promise<Frame>((resolve) => {
      onReply = resolve;
    });
    const conn = await connect(
      { host: '127.0.0.1', port: listener.port },
      { onFrame: (frame) => onReply(frame) },
    );
    conn.send({
      type: FrameType.Request,
      codec: CodecId.Json,
      id: 1,
      metadata: { [MetadataKey.Service]: 'Echo', [MetadataKey.Method]: 'say' },
      payload: new TextEncoder().encode('"hello"'),
    });
    const frame = await reply;
    console.log(frame.id, new TextDecoder().decode(frame.payload)); // 1 "hello"

    await conn.end(); // flushes, half-closes; the server side ends too
    await listener.close(); // resolves once its last connection has closed
    // #endregion readme
    expect(log.mock.calls).toEqual([[1, '"hello"']]);
    expect(conn.closed).toBe(true);
    expect(listener.connections).toBe(0);
  } finally {
    log.mockRestore();
  }
});

it('README shows exactly the snippet this test runs', () => {
  const { imports, snippet, region } = readReadmeSnippet(README, import.meta.url, IMPORTS.length);
  expect(imports).toEqual(IMPORTS);
  expect(snippet).toBe(region);
});
