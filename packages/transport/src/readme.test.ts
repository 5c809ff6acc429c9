import { readFileSync } from 'node:fs';
import type { Frame } from '@mini-rpc/protocol';
import { CodecId, FrameType, MetadataKey } from '@mini-rpc/protocol';
import { expect, it, vi } from 'vitest';
import { connect, createConnection, listen } from './index.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const SELF = readFileSync(new URL(import.meta.url), 'utf8');

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
  const region = /\/\/ #region readme\n([\s\S]*?)\n\s*\/\/ #endregion readme/.exec(SELF)?.[1] ?? '';
  const body = region.replace(/^ {4}/gm, '');
  const snippet = /```ts\n([\s\S]*?)\n```/.exec(README)?.[1] ?? '';
  const lines = snippet.split('\n');
  expect(lines.slice(0, IMPORTS.length)).toEqual(IMPORTS);
  expect(lines.slice(IMPORTS.length).join('\n').trim()).toBe(body.trim());
});
