import type { Server as NetServer, Socket } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import type { TlsOptions } from 'node:tls';
import { createServer as createTlsServer } from 'node:tls';
import { Code, encodeFrame, FrameType, MetadataKey } from '@mini-rpc/protocol';
import { toRpcError } from './socket-error.js';

/** Where and how to accept connections. */
export interface ListenOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 0 (any free port; read it back from `Listener.port`). */
  port?: number;
  /** Accept TLS with these `node:tls` options (key, cert; `requestCert` + `ca` for mutual TLS). */
  tls?: TlsOptions;
  /** Connections beyond this many are told GoAway(ResourceExhausted) and closed. Default 10,000. */
  maxConnections?: number;
  /** Called for each accepted (and, with TLS, handshaken) socket. */
  onSocket(socket: Socket): void;
  /** Called for errors that concern no call (e.g. a failed TLS handshake). */
  onError?(error: Error): void;
}

/** A listening TCP/TLS server. */
export interface Listener {
  readonly host: string;
  readonly port: number;
  /** Sockets currently open. */
  readonly connections: number;
  /** Stops accepting; open sockets are left to their owners. */
  close(): Promise<void>;
}

/**
 * Starts accepting TCP (or TLS) connections; resolves once listening.
 *
 * @example
 * ```ts
 * const listener = await listen({ port: 0, onSocket: (socket) => createConnection(socket, handlers) });
 * ```
 */
export function listen(options: ListenOptions): Promise<Listener> {
  const max = options.maxConnections ?? 10_000;
  let open = 0;
  // Sockets accepted by TCP but not (yet) handed over: TLS handshakes in progress. With allowHalfOpen a
  // peer that leaves mid-handshake would keep one open forever, so close() destroys these.
  const handshaking = new Set<Socket>();
  const accept = (socket: Socket): void => {
    handshaking.delete(socket);
    if (open >= max) {
      const goAway = encodeFrame({
        type: FrameType.GoAway,
        codec: 0,
        id: 0,
        metadata: {
          [MetadataKey.Status]: String(Code.ResourceExhausted),
          [MetadataKey.Message]: `too many connections (limit ${max})`,
        },
      });
      socket.on('error', () => {});
      socket.end(goAway);
      return;
    }
    open++;
    socket.once('close', () => open--);
    options.onSocket(socket);
  };
  const server: NetServer =
    options.tls === undefined
      ? createNetServer({ noDelay: true, allowHalfOpen: true }, accept)
      : createTlsServer({ allowHalfOpen: true, handshakeTimeout: 10_000, ...options.tls }, accept);
  if (options.tls !== undefined) {
    server.on('connection', (socket: Socket) => {
      handshaking.add(socket);
      socket.once('close', () => handshaking.delete(socket));
    });
    server.on('tlsClientError', (err: Error) => options.onError?.(toRpcError(err, 'TLS handshake')));
  }
  return new Promise<Listener>((resolve, reject) => {
    server.once('error', (err) => reject(toRpcError(err, 'listen')));
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : (options.port ?? 0);
      server.on('error', (err) => options.onError?.(err));
      resolve({
        host: options.host ?? '127.0.0.1',
        port,
        get connections() {
          return open;
        },
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const socket of handshaking) socket.destroy();
          }),
      });
    });
  });
}
