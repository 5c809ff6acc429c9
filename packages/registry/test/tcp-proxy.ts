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
  close(): Promise<void>;
}

/** Starts a {@link TcpProxy} on a free 127.0.0.1 port forwarding to 127.0.0.1:`targetPort`. */
export async function startTcpProxy(initialTargetPort: number): Promise<TcpProxy> {
  let targetPort = initialTargetPort;
  const sockets = new Set<Socket>();
  const pairs = new Set<[Socket, Socket]>();
  let blocked = false;
  let frozen = false;
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
    inbound.pipe(outbound).pipe(inbound);
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
    close() {
      blocked = true;
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
