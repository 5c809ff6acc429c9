import type { Socket } from 'node:net';
import { isIP, connect as netConnect } from 'node:net';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import { connect as tlsConnect } from 'node:tls';
import { Code, RpcError } from '@mini-rpc/protocol';
import type { Connection, ConnectionHandlers, ConnectionOptions } from './connection.js';
import { createConnection, createSlabConnection } from './connection.js';
import { ReadSlab } from './read-slab.js';
import { toRpcError } from './socket-error.js';
import { checkConnectionOptions, timerMs } from './timer-ms.js';

/** Where and how to connect. */
export interface ConnectOptions extends ConnectionOptions {
  host: string;
  port: number;
  /** Give up connecting after this long, ms. Default 3,000. */
  connectTimeoutMs?: number;
  /** Connect with TLS using these `node:tls` options (ca, cert, key, servername, …). */
  tls?: TlsConnectionOptions;
  /** Aborting stops a pending connect with Cancelled. */
  signal?: AbortSignal;
}

/**
 * Opens a TCP (or TLS) connection and resolves with a framed {@link Connection} once it is ready.
 * Rejects with RpcError: Unavailable (refused, reset, timed out), Unauthenticated (TLS certificate
 * rejected), Cancelled (signal aborted).
 *
 * @example
 * ```ts
 * const conn = await connect({ host: '127.0.0.1', port: 4000 }, { onFrame: (f) => console.log(f.id) });
 * ```
 */
export function connect(options: ConnectOptions, handlers: ConnectionHandlers): Promise<Connection> {
  let timeoutMs: number;
  try {
    timeoutMs = timerMs('connectTimeoutMs', options.connectTimeoutMs, 3_000);
    checkTarget(options.host, options.port);
    // The connection's own timers are checked when it is made, inside a socket event: check them here,
    // where a mistake can still reject this promise.
    checkConnectionOptions(options);
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise<Connection>((resolve, reject) => {
    const target = `${options.host}:${options.port}`;
    let socket: Socket;
    const ready = options.tls === undefined ? 'connect' : 'secureConnect';
    // TCP sockets read into slabs (read-slab.ts); TLS sockets take Node's chunks ('data').
    let slab: ReadSlab | undefined;
    if (options.tls === undefined) {
      slab = new ReadSlab();
      socket = netConnect({
        host: options.host,
        port: options.port,
        allowHalfOpen: true,
        noDelay: true,
        onread: slab.onread,
      });
    } else {
      try {
        // SNI carries host names only (RFC 6066 §3), never an IP address.
        socket = tlsConnect({
          ...(isIP(options.host) === 0 ? { servername: options.host } : {}),
          ...options.tls,
          host: options.host,
          port: options.port,
        });
      } catch (err) {
        // Node checks the TLS material (a PEM that does not parse, a key that fits no certificate) here,
        // synchronously: a mistake of the caller's, reported as the RpcError every failure of connect is.
        const reason = err instanceof Error ? err.message : String(err);
        reject(
          new RpcError(Code.InvalidArgument, `connect ${target}: bad TLS options: ${reason}`, { cause: err }),
        );
        return;
      }
      socket.allowHalfOpen = true;
    }
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      socket.removeListener(ready, onReady);
      options.signal?.removeEventListener('abort', onAbort);
    };
    const fail = (error: RpcError): void => {
      cleanup();
      socket.destroy();
      reject(error);
    };
    const onError = (err: Error): void => fail(toRpcError(err, `connect ${target}`));
    const onAbort = (): void => fail(new RpcError(Code.Cancelled, `connect ${target}: aborted`));
    const onReady = (): void => {
      cleanup();
      resolve(
        slab === undefined
          ? createConnection(socket, handlers, options)
          : createSlabConnection(socket, handlers, options, slab),
      );
    };
    // 0 (or Infinity): no timeout of our own; the OS gives up on its own in time.
    const timer =
      timeoutMs === 0
        ? undefined
        : setTimeout(
            () => fail(new RpcError(Code.Unavailable, `connect ${target}: timed out after ${timeoutMs} ms`)),
            timeoutMs,
          );
    socket.once('error', onError);
    socket.once(ready, onReady);
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Node connects an empty host to localhost and reports a bad port with its own RangeError after the socket
 * exists: say what is wrong before anything is opened.
 */
function checkTarget(host: unknown, port: unknown): void {
  if (typeof host !== 'string' || host === '')
    throw new TypeError(
      `connect: host must be a non-empty string, got ${JSON.stringify(host) ?? String(host)}`,
    );
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535)
    throw new TypeError(`connect: port must be an integer in 1…65535, got ${String(port)}`);
}
