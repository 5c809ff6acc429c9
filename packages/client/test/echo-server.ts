import type { Frame, ServiceInstance } from '@mini-rpc/protocol';
import { FrameType, MetadataKey } from '@mini-rpc/protocol';
import type { Connection } from '@mini-rpc/transport';
import { createConnection, listen } from '@mini-rpc/transport';
import type { Cleanups } from '../../../tooling/testing/harness.js';

const QUIET = { heartbeatIntervalMs: 0, readTimeoutMs: 0, writeTimeoutMs: 0 };

/**
 * A frame-speaking server on 127.0.0.1 (transport's listen() + createConnection()) that hands every Request
 * to `onRequest` and ends its side once the client has ended its own, like a real server. Counts the
 * connections that opened and closed; `instance(id)` describes it for a registry.
 */
export async function frameServer(cleanups: Cleanups, onRequest: (frame: Frame, conn: Connection) => void) {
  const conns: Connection[] = [];
  let closed = 0;
  const listener = await listen({
    onSocket: (s) => {
      conns.push(
        createConnection(
          s,
          {
            onFrame: (f, c) => {
              if (f.type === FrameType.Request) onRequest(f, c);
            },
            onClose: () => {
              closed++;
            },
            onEnd: (c) => void c.end(),
          },
          QUIET,
        ),
      );
    },
  });
  cleanups.push(() => {
    for (const c of conns) c.close();
    return listener.close();
  });
  const port = listener.port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    /** Connections accepted so far. */
    get sockets() {
      return conns.length;
    },
    /** Connections closed so far. */
    get closed() {
      return closed;
    },
    instance(id: string, name = 'S'): ServiceInstance {
      return { id, name, host: '127.0.0.1', port, weight: 1, metadata: {} };
    },
  };
}

/**
 * A {@link frameServer} whose `echo` answers with the arguments; any other method is held unanswered.
 * Records the requests it got.
 */
export async function echoServer(cleanups: Cleanups) {
  const requests: Frame[] = [];
  const server = await frameServer(cleanups, (f, c) => {
    requests.push({ ...f, payload: f.payload.slice() });
    if (f.metadata[MetadataKey.Method] === 'echo')
      c.send({ type: FrameType.Response, codec: f.codec, id: f.id, payload: f.payload.slice() });
  });
  return Object.assign(server, { requests });
}
