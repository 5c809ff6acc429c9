import { connect, createServer, type Socket } from 'node:net';

/** A loopback TCP proxy to one port that a test can cut off, to make etcd unreachable for one client. */
export interface TcpProxy {
  readonly port: number;
  /** Drops every open connection and every new one until `unblock()`. */
  block(): void;
  unblock(): void;
  /**
   * Stops forwarding, in both directions, on every open connection and every new one, without closing any:
   * etcd as a client sees it when etcd is frozen (SIGSTOP) or the network silently drops packets.
   */
  freeze(): void;
  /** From now on forwards to 127.0.0.1:`port` (connections already open stay with the old target). */
  retarget(port: number): void;
  /**
   * Once, on the next connection accepted from now on: forwards what the target sends up to and including the
   * first gRPC message for which `match` is true, drops the rest and closes that connection. A connection that
   * drops at one exact point of an exchange (plain HTTP/2 only: no TLS, no gRPC compression). Resolves once
   * it has cut.
   */
  cutAfterMessage(match: (message: Uint8Array) => boolean): Promise<void>;
  /**
   * Once, on the next connection accepted from now on: as soon as the target has sent the first gRPC message
   * for which `match` is true, stops forwarding what the client sends (kept, not dropped) until the
   * `release` this resolves with is called: the target has answered, and does not hear what comes next.
   */
  holdAfterMessage(match: (message: Uint8Array) => boolean): Promise<() => void>;
  close(): Promise<void>;
}

/** Starts a {@link TcpProxy} on a free 127.0.0.1 port forwarding to 127.0.0.1:`targetPort`. */
export async function startTcpProxy(initialTargetPort: number): Promise<TcpProxy> {
  let targetPort = initialTargetPort;
  const sockets = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let blocked = false;
  let frozen = false;
  let tap: Tap | undefined;
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };
  const halt = ([inbound, outbound]: [Socket, Socket]): void => {
    inbound.unpipe(outbound);
    outbound.unpipe(inbound);
    inbound.pause();
    outbound.pause();
  };
  const server = createServer((inbound) => {
    track(inbound);
    if (blocked) {
      inbound.destroy();
      return;
    }
    if (frozen) {
      inbound.pause();
      return;
    }
    const outbound = connect(targetPort, '127.0.0.1');
    track(outbound);
    const pair: [Socket, Socket] = [inbound, outbound];
    pairs.add(pair);
    inbound.pipe(outbound);
    if (tap) afterMessage(pair, tap.match, tap.onMatch);
    else outbound.pipe(inbound);
    tap = undefined;
    inbound.on('close', () => {
      pairs.delete(pair);
      outbound.destroy();
    });
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    block() {
      blocked = true;
      for (const socket of sockets) socket.destroy();
    },
    unblock() {
      blocked = false;
    },
    freeze() {
      frozen = true;
      for (const pair of pairs) halt(pair);
    },
    retarget(port) {
      targetPort = port;
    },
    cutAfterMessage(match) {
      return new Promise((done) => {
        tap = {
          match,
          onMatch: ([inbound, outbound]) => {
            outbound.pause();
            // The client closes its side on this end, and the pair's 'close' handlers destroy `outbound`.
            inbound.end();
            done();
            return false;
          },
        };
      });
    },
    holdAfterMessage(match) {
      return new Promise((held) => {
        tap = {
          match,
          onMatch: ([inbound, outbound]) => {
            inbound.unpipe(outbound);
            inbound.pause();
            held(() => inbound.pipe(outbound));
            return true;
          },
        };
      });
    },
    close() {
      blocked = true;
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** What the next connection does after the target's first gRPC message that matches; see `afterMessage`. */
interface Tap {
  readonly match: (message: Uint8Array) => boolean;
  readonly onMatch: (pair: [Socket, Socket]) => boolean;
}

const FRAME_HEADER = 9;
const DATA_FRAME = 0;
const PADDED = 0x8;

/**
 * Forwards the HTTP/2 frames the target sends to the client frame by frame until a DATA frame carries a gRPC
 * message that `match`es; that frame still goes through, then `onMatch` acts on the pair and says whether the
 * target's bytes still go to the client (as they are, without looking at them) or are dropped from now on.
 */
function afterMessage(
  pair: [Socket, Socket],
  match: (message: Uint8Array) => boolean,
  onMatch: (pair: [Socket, Socket]) => boolean,
): void {
  const [inbound, outbound] = pair;
  let pending = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    pending = Buffer.concat([pending, chunk]);
    // Every pass consumes a whole frame (at least its 9-byte header): bounded by the bytes received.
    while (pending.length >= FRAME_HEADER) {
      const size = FRAME_HEADER + pending.readUIntBE(0, 3);
      if (pending.length < size) return;
      const frame = pending.subarray(0, size);
      pending = pending.subarray(size);
      inbound.write(frame);
      if (frame[3] === DATA_FRAME && grpcMessages(frame).some(match)) {
        outbound.off('data', onData);
        if (!onMatch(pair)) return;
        inbound.write(pending);
        outbound.pipe(inbound);
        return;
      }
    }
  };
  outbound.on('data', onData);
}

/** The complete gRPC messages in one HTTP/2 DATA frame (a message split across frames is not seen). */
function grpcMessages(frame: Buffer): Uint8Array[] {
  const padded = ((frame[4] ?? 0) & PADDED) !== 0;
  const padding = padded ? (frame[FRAME_HEADER] ?? 0) : 0;
  const data = frame.subarray(FRAME_HEADER + (padded ? 1 : 0), frame.length - padding);
  const messages: Uint8Array[] = [];
  // Each pass moves past one 5-byte prefix and its message.
  for (let at = 0; at + 5 <= data.length; ) {
    const end = at + 5 + data.readUInt32BE(at + 1);
    if (end > data.length) break;
    messages.push(data.subarray(at + 5, end));
    at = end;
  }
  return messages;
}
