import type { Socket } from 'node:net';
import type { TlsOptions } from 'node:tls';
import type { Codec } from '@mini-rpc/codec';
import { jsonCodec, msgpackCodec } from '@mini-rpc/codec';
import type { Registry, ServerMiddleware, ServiceInstance } from '@mini-rpc/protocol';
import {
  Code,
  DEFAULT_MAX_METADATA,
  DEFAULT_MAX_PAYLOAD,
  IDEMPOTENT_METADATA_KEY,
  RequestMap,
  RpcError,
} from '@mini-rpc/protocol';
import type { Connection, Listener } from '@mini-rpc/transport';
import { checkConnectionOptions, createConnection, listen } from '@mini-rpc/transport';
import type { ConnState } from './dispatcher.js';
import { Dispatcher } from './dispatcher.js';
import type { Logger } from './logger.js';
import { consoleLogger, guardedLogger } from './logger.js';
import type { AddServiceOptions, ServiceDefinition } from './service-definition.js';
import { defineService } from './service-definition.js';

/** Options of {@link createServer}; every limit has a safe default. */
export interface ServerOptions {
  /** Codecs the server answers in (a response uses the request's codec). Default JSON and MessagePack. */
  codecs?: readonly Codec[];
  /** Global middleware, outermost first (see docs/lifecycle.md for the recommended order). */
  middleware?: readonly ServerMiddleware[];
  /** Default 10,000. */
  maxConnections?: number;
  /** Calls one connection may have running; more are refused with ResourceExhausted. Default 16,384. */
  maxInFlightPerConnection?: number;
  /** Largest request payload, bytes. Default 4 MiB. */
  maxPayload?: number;
  /** Largest request metadata block, bytes. Default 64 KiB. */
  maxMetadata?: number;
  /** Heartbeat interval, ms. Default 5,000. */
  heartbeatIntervalMs?: number;
  /** A connection silent this long (not even heartbeats) is closed, ms. Default 15,000. */
  idleTimeoutMs?: number;
  /** Serve TLS with these options (`requestCert: true` + `ca` for mutual TLS). */
  tls?: TlsOptions;
  /** Register every service here once listening; deregister first thing on close. */
  registry?: Registry;
  /** Host announced in the registry; default the listening host. */
  advertiseHost?: string;
  /** Weight announced in the registry. Default 1. */
  weight?: number;
  /** Metadata announced in the registry for every service. */
  instanceMetadata?: Record<string, string>;
  /** How long `close()` waits for in-flight calls by default, ms. Default 10,000. */
  shutdownGraceMs?: number;
  logger?: Logger;
}

/** Where to listen. */
export interface ListenAddress {
  /** Default 0: any free port. */
  port?: number;
  /** Default `127.0.0.1`. */
  host?: string;
}

/** A mini-rpc server. */
export interface Server {
  /** Registers a service implementation (decorated class instance or plain object with `options.name`). */
  addService(impl: object, options?: AddServiceOptions): Server;
  /** Adds global middleware; the first added runs outermost. */
  use(...middleware: ServerMiddleware[]): Server;
  /** Adds middleware for one service (`'Arith'`) or one method (`'Arith.add'`), inside the global ones. */
  useFor(target: string, ...middleware: ServerMiddleware[]): Server;
  /** Starts accepting connections; then registers the services in the registry, if any. */
  listen(address?: ListenAddress): Promise<{ host: string; port: number }>;
  /**
   * Shuts down gracefully: deregister → GoAway to every client → stop accepting → let in-flight calls
   * finish within `graceMs` → close. Calls still running after the grace period are aborted.
   */
  close(options?: { graceMs?: number }): Promise<void>;
  readonly port: number | undefined;
  /** Open connections. */
  readonly connections: number;
  /** Calls running now, across connections. */
  readonly inFlight: number;
  /** The instances this server registered (one per service). */
  readonly instances: readonly ServiceInstance[];
}

function idempotentMetadata(def: ServiceDefinition): Record<string, string> {
  const names = [...def.methods.values()].filter((m) => m.idempotent).map((m) => m.name);
  return names.length === 0 ? {} : { [IDEMPOTENT_METADATA_KEY]: names.join(',') };
}

/**
 * Creates a server. Add services, then `listen()`.
 *
 * @example
 * ```ts
 * const server = createServer({ registry });
 * server.addService(new Arith());
 * const { port } = await server.listen({ port: 4000 });
 * ```
 */
export function createServer(options: ServerOptions = {}): Server {
  return new RpcServer(options);
}

class RpcServer implements Server {
  private readonly options: ServerOptions;
  private readonly logger: Logger;
  private readonly services = new Map<string, ServiceDefinition>();
  private readonly dispatcher: Dispatcher;
  private readonly conns = new Set<ConnState>();
  private listener: Listener | undefined;
  private closing: Promise<void> | undefined;
  private draining = false;
  private registered: ServiceInstance[] = [];
  port: number | undefined;

  constructor(options: ServerOptions) {
    // Connections are made inside socket events: a bad timer or size option must fail here, not on each accept.
    try {
      checkConnectionOptions({
        ...(options.heartbeatIntervalMs === undefined
          ? {}
          : { heartbeatIntervalMs: options.heartbeatIntervalMs }),
        ...(options.idleTimeoutMs === undefined ? {} : { readTimeoutMs: options.idleTimeoutMs }),
        ...(options.maxPayload === undefined ? {} : { maxPayload: options.maxPayload }),
        ...(options.maxMetadata === undefined ? {} : { maxMetadata: options.maxMetadata }),
      });
    } catch (err) {
      const message = (err as Error).message;
      const note = message.startsWith('readTimeoutMs')
        ? " (idleTimeoutMs is the connections' readTimeoutMs)"
        : '';
      throw new TypeError(`createServer: ${message}${note}`);
    }
    this.options = options;
    this.logger = options.logger === undefined ? consoleLogger : guardedLogger(options.logger);
    this.dispatcher = new Dispatcher(
      this.logger,
      options.codecs ?? [jsonCodec, msgpackCodec],
      options.maxInFlightPerConnection ?? 16_384,
      options.middleware ?? [],
    );
  }

  get inFlight(): number {
    return this.dispatcher.inFlight;
  }

  get connections(): number {
    return this.conns.size;
  }

  get instances(): readonly ServiceInstance[] {
    return this.registered;
  }

  addService(impl: object, options?: AddServiceOptions): Server {
    const def = defineService(impl, options);
    if (this.services.has(def.name))
      throw new TypeError(`addService: service ${def.name} is already registered`);
    this.services.set(def.name, def);
    this.dispatcher.addService(def);
    return this;
  }

  use(...middleware: ServerMiddleware[]): Server {
    this.dispatcher.use(middleware);
    return this;
  }

  useFor(target: string, ...middleware: ServerMiddleware[]): Server {
    this.dispatcher.useFor(target, middleware);
    return this;
  }

  async listen(address: ListenAddress = {}): Promise<{ host: string; port: number }> {
    if (this.listener !== undefined) throw new Error('listen: the server is already listening');
    if (this.services.size === 0) throw new TypeError('listen: add at least one service first');
    const host = address.host ?? '127.0.0.1';
    this.listener = await listen({
      host,
      port: address.port ?? 0,
      maxConnections: this.options.maxConnections ?? 10_000,
      onSocket: (socket) => this.accept(socket),
      onError: (error) => this.logger.warn({ err: error }, 'connection failed before it was accepted'),
      ...(this.options.tls === undefined ? {} : { tls: this.options.tls }),
    });
    this.port = this.listener.port;
    try {
      await this.register(this.options.advertiseHost ?? host, this.listener.port);
    } catch (err) {
      // Listening but not (fully) registered is neither serving nor stopped: undo it all (deregister what
      // was registered, free the port) before the caller hears of it.
      this.logger.error({ err }, 'registering failed; closing the server');
      // No grace for connections (nothing was announced), but the usual bound for deregistering.
      this.closing ??= this.shutdown(0, 5_000);
      await this.closing;
      throw err;
    }
    return { host, port: this.listener.port };
  }

  close(options: { graceMs?: number } = {}): Promise<void> {
    this.closing ??= this.shutdown(options.graceMs ?? this.options.shutdownGraceMs ?? 10_000);
    return this.closing;
  }

  private async register(host: string, port: number): Promise<void> {
    const registry = this.options.registry;
    if (registry === undefined) return;
    for (const def of this.services.values()) {
      const instance: ServiceInstance = {
        id: `${def.name}@${host}:${port}`,
        name: def.name,
        host,
        port,
        weight: this.options.weight ?? 1,
        metadata: { ...def.options.metadata, ...this.options.instanceMetadata, ...idempotentMetadata(def) },
      };
      await registry.register(instance);
      if (this.closing !== undefined) {
        // close() began while this registration ran, and deregistered only what was registered then.
        await registry.deregister(instance).catch((err: unknown) => {
          this.logger.warn({ err }, 'deregister failed');
        });
        return;
      }
      this.registered.push(instance);
    }
  }

  private async shutdown(graceMs: number, deregisterMs = Math.min(graceMs, 5_000)): Promise<void> {
    const registry = this.options.registry;
    if (registry !== undefined) {
      // Bounded: a registry that hangs must not hold the shutdown (a lease expires by itself anyway).
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), deregisterMs);
      });
      const results = await Promise.race([
        Promise.allSettled(this.registered.map((i) => registry.deregister(i))),
        late,
      ]);
      clearTimeout(timer);
      if (results === undefined) this.logger.warn({}, 'deregistering took too long; shutting down anyway');
      else
        for (const r of results)
          if (r.status === 'rejected') this.logger.warn({ err: r.reason }, 'deregister failed');
    }
    this.draining = true;
    for (const st of this.conns) this.sendGoAway(st);
    const stopped = this.listener?.close();
    const drained = new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.conns.size === 0) resolve();
      };
      this.onConnGone = check;
      check();
    });
    const timer = setTimeout(() => {
      for (const st of this.conns) {
        for (const ctx of st.calls.values()) ctx.abort(new RpcError(Code.Unavailable, 'server shut down'));
        st.conn.close(new RpcError(Code.Unavailable, 'server shut down: grace period over'));
      }
    }, graceMs);
    timer.unref();
    await drained;
    clearTimeout(timer);
    await stopped;
  }

  private onConnGone: () => void = () => {};

  private accept(socket: Socket): void {
    const st: ConnState = {
      conn: undefined as unknown as Connection,
      calls: new RequestMap(),
      readEnded: false,
      maxId: 0,
      goAwayId: undefined,
      sweep: undefined,
    };
    const conn = createConnection(
      socket,
      {
        onFrame: (frame) => this.dispatcher.onFrame(st, frame),
        onClose: (error) => this.onClose(st, error),
        onEnd: () => {
          st.readEnded = true;
          if (st.calls.size === 0) void st.conn.end();
        },
      },
      {
        maxPayload: this.options.maxPayload ?? DEFAULT_MAX_PAYLOAD,
        maxMetadata: this.options.maxMetadata ?? DEFAULT_MAX_METADATA,
        heartbeatIntervalMs: this.options.heartbeatIntervalMs ?? 5_000,
        readTimeoutMs: this.options.idleTimeoutMs ?? 15_000,
      },
    );
    (st as { conn: Connection }).conn = conn;
    this.conns.add(st);
    if (this.draining) this.sendGoAway(st);
  }

  /** Tells the client to send no more calls here; it still gets answers to the ones already accepted. */
  private sendGoAway(st: ConnState): void {
    if (st.goAwayId !== undefined) return;
    st.goAwayId = st.maxId;
    st.conn.goAway(Code.Unavailable, 'server shutting down', st.maxId);
    if (st.calls.size === 0) void st.conn.end();
  }

  private onClose(st: ConnState, error: RpcError | undefined): void {
    this.conns.delete(st);
    if (error !== undefined && st.calls.size > 0) {
      this.logger.warn(
        { peer: st.conn.remoteAddress, err: error.message, calls: st.calls.size },
        'connection lost with calls running',
      );
    } else if (error !== undefined && error.code !== Code.Unavailable) {
      this.logger.warn({ peer: st.conn.remoteAddress, err: error.message }, 'connection closed');
    }
    this.dispatcher.dropAll(st, error);
    this.onConnGone();
  }
}
