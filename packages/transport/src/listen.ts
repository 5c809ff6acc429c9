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
   * Called for errors that concern no call (e.g. a failed TLS handshake; under `requestCert` a client without
   * a trusted certificate, as Unauthenticated: "TLS handshake: no client certificate" or "TLS handshake:
   * client certificate rejected (<reason>)"). Without it, an `onSocket` error is
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
 * Why a TLS client was not authorized: `no client certificate`, or `client certificate rejected (<code>)`
 * with Node's `authorizationError` code (a string at run time, typed as Error). Node reports a missing
 * certificate as UNABLE_TO_GET_ISSUER_CERT, which would send the client looking in the wrong place.
 */
function certificateProblem(socket: TLSSocket): string {
  const peer = socket.getPeerCertificate();
  if (peer === null || Object.keys(peer).length === 0) return 'no client certificate';
  const reason: unknown = socket.authorizationError;
  const code = typeof reason === 'string' ? reason : (reason as NodeJS.ErrnoException | undefined)?.code;
  return `client certificate rejected (${typeof code === 'string' && code !== '' ? code : 'not trusted'})`;
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
  // Node checks a client certificate only after the TLS handshake and, when it refuses one, destroys the
  // socket without a TLS alert: under TLS 1.3 the client's handshake is complete by then, and all it learns
  // is a hang-up. So a server that requires client certificates checks them here instead (Node's own check
  // off, `socket.authorized` read before anything else sees the socket) and tells the client why it is
  // refused: GoAway(Unauthenticated), on which the client fails its calls with that code.
  const checkClientCert = options.tls?.requestCert === true && options.tls.rejectUnauthorized !== false;
  const tlsOptions = checkClientCert ? { ...options.tls, rejectUnauthorized: false } : options.tls;
  /**
   * Tells the peer GoAway(`code`) with id 0 (an ordinary GoAway that accepted no call, docs/protocol.md §3.5:
   * it fails whatever it sent as not run) and half-closes; the socket is destroyed after a short linger (the
   * peer may never close its side) and at close().
   */
  const refuse = (socket: Socket, code: Code, message: string): void => {
    const goAway = encodeFrame({
      type: FrameType.GoAway,
      codec: 0,
      id: 0,
      metadata: { [MetadataKey.Status]: String(code), [MetadataKey.Message]: message },
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
  };
  const accept = (socket: Socket): void => {
    if (options.tls !== undefined) handshaking.delete(peerKey(socket));
    if (checkClientCert && !(socket as TLSSocket).authorized) {
      const message = certificateProblem(socket as TLSSocket);
      refuse(socket, Code.Unauthenticated, message);
      report(new RpcError(Code.Unauthenticated, `TLS handshake: ${message}`));
      return;
    }
    if (open >= max) {
      // The ordinary GoAway rather than the form of a protocol error (ResourceExhausted, §6), which would say
      // nothing about which calls ran, so a client could retry none that was not idempotent.
      refuse(socket, Code.Unavailable, `too many connections (limit ${max})`);
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
      : createTlsServer({ allowHalfOpen: true, handshakeTimeout: 10_000, ...tlsOptions }, accept);
  if (options.tls !== undefined) {
    server.on('connection', (socket: Socket) => {
      const key = peerKey(socket);
      handshaking.set(key, socket);
      socket.once('close', () => {
        if (handshaking.get(key) === socket) handshaking.delete(key);
      });
    });
    server.on('tlsClientError', (err: Error) => {
      if (options.onError !== undefined) report(toRpcError(err, 'TLS handshake'));
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
