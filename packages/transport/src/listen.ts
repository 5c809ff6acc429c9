import type { Server as NetServer, Socket } from 'node:net';
import { createServer as createNetServer } from 'node:net';
import type { TLSSocket, TlsOptions } from 'node:tls';
import { createServer as createTlsServer } from 'node:tls';
import { Code, encodeFrame, FrameType, MetadataKey, RpcError } from '@mini-rpc/protocol';
import { handlerError, reportWarning } from './handler-error.js';
import { sizeOption } from './size-option.js';
import { toRpcError } from './socket-error.js';

/** Where and how to accept connections. */
export interface ListenOptions {
  /** Default `127.0.0.1`. */
  host?: string;
  /** Default 0 (any free port; read it back from `Listener.port`). */
  port?: number;
  /** Accept TLS with these `node:tls` options (key, cert; `requestCert` + `ca` for mutual TLS). */
  tls?: TlsOptions;
  /**
   * Connections beyond this many are told GoAway(Unavailable, id 0) and half-closed, and destroyed after 1 s
   * (or at `close()`) if the peer has not closed its side by then. A number ≥ 0; default 10,000.
   */
  maxConnections?: number;
  /**
   * Called for each accepted (and, with TLS, handshaken) socket. Must not throw: a socket whose `onSocket`
   * throws is destroyed and the error (`Internal`, "onSocket threw: …") goes to `onError`.
   */
  onSocket(socket: Socket): void;
  /**
   * Called for errors that concern no call (e.g. a failed TLS handshake; a client certificate Node refused is
   * Unauthenticated, "client certificate rejected (<reason>)"). Without it, an `onSocket` error is
   * a `MiniRpcListenerWarning` process warning; so is an error `onError` throws.
   */
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

/** How long a connection refused over `maxConnections` may stay after its GoAway, ms. */
const REFUSED_LINGER_MS = 1_000;

function peerKey(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
}

/**
 * The RpcError for a failed TLS handshake. Node verifies a client certificate only after the handshake, and
 * when it is not trusted destroys the socket without a TLS alert: the error it reports is then a hang-up
 * (ECONNRESET, "socket hang up") and the reason is the socket's `authorizationError` (a code such as
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE, a string at run time though typed as Error).
 */
function handshakeError(err: Error, socket: TLSSocket | undefined): RpcError {
  const reason: unknown = socket?.authorizationError;
  const code = typeof reason === 'string' ? reason : (reason as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && code !== '') {
    return new RpcError(Code.Unauthenticated, `TLS handshake: client certificate rejected (${code})`, {
      cause: err,
    });
  }
  return toRpcError(err, 'TLS handshake');
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
  let max: number;
  try {
    max = sizeOption('maxConnections', options.maxConnections, 10_000);
  } catch (err) {
    return Promise.reject(err);
  }
  let open = 0;
  // TCP sockets whose TLS handshake is in progress, by peer address: the TLS socket that accept() gets is
  // another object than the TCP socket 'connection' saw, and the peer's address and port are what they
  // share. With allowHalfOpen a peer that leaves mid-handshake would keep one open forever, so close()
  // destroys these (and only these: established connections are left to their owners).
  const handshaking = new Map<string, Socket>();
  // Sockets refused over the limit: told GoAway and half-closed; destroyed after a short linger (the
  // peer may never close its side) and at close().
  const refused = new Set<Socket>();
  const accept = (socket: Socket): void => {
    if (options.tls !== undefined) handshaking.delete(peerKey(socket));
    if (open >= max) {
      // An ordinary GoAway (docs/protocol.md §3.5) that accepted no call (id 0): the peer fails whatever it
      // sent here as not run and may retry it elsewhere. The form of a protocol error (ResourceExhausted,
      // §6) would say nothing about which calls ran, so a client could retry none that was not idempotent.
      const goAway = encodeFrame({
        type: FrameType.GoAway,
        codec: 0,
        id: 0,
        metadata: {
          [MetadataKey.Status]: String(Code.Unavailable),
          [MetadataKey.Message]: `too many connections (limit ${max})`,
        },
      });
      socket.on('error', () => {});
      refused.add(socket);
      const linger = setTimeout(() => socket.destroy(), REFUSED_LINGER_MS);
      linger.unref();
      socket.once('close', () => {
        clearTimeout(linger);
        refused.delete(socket);
      });
      socket.end(goAway);
      return;
    }
    open++;
    socket.once('close', () => open--);
    try {
      options.onSocket(socket);
    } catch (err) {
      // Inside the server's 'connection' event an escaping error would end the process: fail this socket.
      socket.destroy();
      report(handlerError('onSocket', err));
    }
  };
  // Errors that concern no call go to onError; one that onError throws, or one without an onError to take
  // it, becomes a process warning (never an uncaught exception in a server event).
  const report = (error: Error): void => {
    if (options.onError === undefined) reportWarning(error);
    else {
      try {
        options.onError(error);
      } catch (err) {
        reportWarning(handlerError('onError', err));
      }
    }
  };
  const server: NetServer =
    options.tls === undefined
      ? createNetServer({ noDelay: true, allowHalfOpen: true }, accept)
      : createTlsServer({ allowHalfOpen: true, handshakeTimeout: 10_000, ...options.tls }, accept);
  if (options.tls !== undefined) {
    server.on('connection', (socket: Socket) => {
      const key = peerKey(socket);
      handshaking.set(key, socket);
      socket.once('close', () => {
        if (handshaking.get(key) === socket) handshaking.delete(key);
      });
    });
    server.on('tlsClientError', (err: Error, socket: TLSSocket | undefined) => {
      if (options.onError !== undefined) report(handshakeError(err, socket));
    });
  }
  return new Promise<Listener>((resolve, reject) => {
    server.once('error', (err) => reject(toRpcError(err, 'listen')));
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : (options.port ?? 0);
      server.on('error', (err) => {
        if (options.onError !== undefined) report(err);
      });
      resolve({
        host: options.host ?? '127.0.0.1',
        port,
        get connections() {
          return open;
        },
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            for (const socket of handshaking.values()) socket.destroy();
            for (const socket of refused) socket.destroy();
          }),
      });
    });
  });
}
