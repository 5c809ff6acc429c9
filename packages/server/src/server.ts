import type { Socket } from 'node:net';
import type { TlsOptions } from 'node:tls';
import type { Codec, CodecSchema } from '@mini-rpc/codec';
import { jsonCodec, msgpackCodec } from '@mini-rpc/codec';
import type { Frame, Metadata, Registry, ServerMiddleware, ServiceInstance } from '@mini-rpc/protocol';
import {
  Code,
  DEFAULT_MAX_METADATA,
  DEFAULT_MAX_PAYLOAD,
  FrameType,
  IDEMPOTENT_METADATA_KEY,
  MetadataKey,
  RESERVED_PREFIX,
  RpcError,
} from '@mini-rpc/protocol';
import type { Connection, Listener } from '@mini-rpc/transport';
import { createConnection, listen } from '@mini-rpc/transport';
import { CallContext } from './call-context.js';
import { runChain } from './chain.js';
import type { Logger } from './logger.js';
import { consoleLogger } from './logger.js';
import type { AddServiceOptions, MethodDefinition, ServiceDefinition } from './service-definition.js';
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

interface ConnState {
  readonly conn: Connection;
  readonly calls: Map<number, CallContext>;
  readEnded: boolean;
  /** Highest request id accepted on this connection. */
  maxId: number;
  /** Set once GoAway went out: the highest id that will still be answered (docs/protocol.md §3.5). */
  goAwayId: number | undefined;
}

interface ResolvedMethod {
  readonly def: MethodDefinition;
  readonly requestSchema: CodecSchema;
  readonly responseSchema: CodecSchema;
  chain: readonly ServerMiddleware[] | undefined;
}

function idempotentMetadata(def: ServiceDefinition): Record<string, string> {
  const names = [...def.methods.values()].filter((m) => m.idempotent).map((m) => m.name);
  return names.length === 0 ? {} : { [IDEMPOTENT_METADATA_KEY]: names.join(',') };
}

/** Marks refusals that happened before any handler ran (docs/protocol.md §4.2, `:u`). */
const NOT_RUN: Metadata = { [MetadataKey.NotRun]: '1' };

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null &&
  (typeof v === 'object' || typeof v === 'function') &&
  typeof (v as { then?: unknown }).then === 'function';

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
  private readonly codecs: (Codec | undefined)[] = [];
  private readonly services = new Map<string, ServiceDefinition>();
  private readonly methods = new Map<string, Map<string, ResolvedMethod>>();
  private readonly global: ServerMiddleware[] = [];
  private readonly scoped = new Map<string, ServerMiddleware[]>();
  private readonly conns = new Set<ConnState>();
  private readonly maxInFlight: number;
  private listener: Listener | undefined;
  private closing: Promise<void> | undefined;
  private draining = false;
  private registered: ServiceInstance[] = [];
  inFlight = 0;
  port: number | undefined;

  constructor(options: ServerOptions) {
    this.options = options;
    this.logger = options.logger ?? consoleLogger;
    for (const codec of options.codecs ?? [jsonCodec, msgpackCodec]) this.codecs[codec.id] = codec;
    this.global.push(...(options.middleware ?? []));
    this.maxInFlight = options.maxInFlightPerConnection ?? 16_384;
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
    const table = new Map<string, ResolvedMethod>();
    for (const m of def.methods.values()) {
      table.set(m.name, {
        def: m,
        requestSchema: { service: def.name, method: m.name, kind: 'request' },
        responseSchema: { service: def.name, method: m.name, kind: 'response' },
        chain: undefined,
      });
    }
    this.methods.set(def.name, table);
    return this;
  }

  use(...middleware: ServerMiddleware[]): Server {
    this.global.push(...middleware);
    this.resetChains();
    return this;
  }

  useFor(target: string, ...middleware: ServerMiddleware[]): Server {
    const list = this.scoped.get(target) ?? [];
    list.push(...middleware);
    this.scoped.set(target, list);
    this.resetChains();
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
    await this.register(this.options.advertiseHost ?? host, this.listener.port);
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
      this.registered.push(instance);
    }
  }

  private async shutdown(graceMs: number): Promise<void> {
    const registry = this.options.registry;
    if (registry !== undefined) {
      // Bounded: a registry that hangs must not hold the shutdown (a lease expires by itself anyway).
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), Math.min(graceMs, 5_000));
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
      calls: new Map(),
      readEnded: false,
      maxId: 0,
      goAwayId: undefined,
    };
    const conn = createConnection(
      socket,
      {
        onFrame: (frame) => this.onFrame(st, frame),
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
    for (const ctx of st.calls.values()) {
      ctx.abort(error ?? new RpcError(Code.Cancelled, 'connection closed'));
      ctx.finish();
    }
    this.inFlight -= st.calls.size;
    st.calls.clear();
    this.onConnGone();
  }

  private onFrame(st: ConnState, frame: Frame): void {
    if (frame.type === FrameType.Request) this.onRequest(st, frame);
    else if (frame.type === FrameType.Cancel) {
      // docs/protocol.md §3.4: abort the handler and forget the id at once, so a handler that ignores its
      // signal does not keep an in-flight slot (or a graceful close) waiting.
      const ctx = st.calls.get(frame.id);
      if (ctx === undefined) return;
      ctx.abort(new RpcError(Code.Cancelled, 'cancelled by the caller'));
      this.settle(st, ctx);
    }
  }

  private onRequest(st: ConnState, frame: Frame): void {
    const md = frame.metadata;
    if (st.calls.has(frame.id)) {
      // Two calls with one id cannot be told apart: the peer is broken (docs/protocol.md §3.1).
      this.logger.warn({ peer: st.conn.remoteAddress, requestId: frame.id }, 'request id already in flight');
      st.conn.terminate(new RpcError(Code.InvalidArgument, `request id ${frame.id} is already in flight`));
      return;
    }
    if (st.goAwayId !== undefined && frame.id > st.goAwayId) {
      this.refuse(st, frame, Code.Unavailable, 'server shutting down: call not run');
      return;
    }
    if (frame.id > st.maxId) st.maxId = frame.id;
    const service = md[MetadataKey.Service];
    const methodName = md[MetadataKey.Method];
    if (service === undefined || methodName === undefined) {
      this.refuse(st, frame, Code.InvalidArgument, 'request without service or method name');
      return;
    }
    const table = this.methods.get(service);
    const resolved = table?.get(methodName);
    if (resolved === undefined) {
      const what =
        table === undefined ? `unknown service '${service}'` : `unknown method '${service}.${methodName}'`;
      this.refuse(st, frame, Code.NotFound, what);
      return;
    }
    if (st.calls.size >= this.maxInFlight) {
      this.refuse(st, frame, Code.ResourceExhausted, 'too many calls in flight on this connection');
      return;
    }
    const codec = this.codecs[frame.codec];
    if (codec === undefined) {
      this.refuse(st, frame, Code.Unimplemented, `codec ${frame.codec} is not served here`);
      return;
    }
    let args: unknown;
    try {
      args = codec.decode(frame.payload, resolved.requestSchema);
    } catch (err) {
      this.refuse(st, frame, Code.InvalidArgument, `arguments do not decode: ${(err as Error).message}`);
      return;
    }
    const t = md[MetadataKey.Timeout];
    let deadline: number | undefined;
    if (t !== undefined) {
      const ms = Number(t);
      if (!(ms >= 0)) {
        this.refuse(st, frame, Code.InvalidArgument, `invalid timeout '${t}'`);
        return;
      }
      if (ms === 0) {
        this.refuse(st, frame, Code.DeadlineExceeded, 'deadline exceeded before the call ran');
        return;
      }
      deadline = Date.now() + ms;
    }
    const ctx = new CallContext(service, methodName, frame.id, md, st.conn.remoteAddress, deadline);
    const def = resolved.def;
    if (resolved.chain === undefined) resolved.chain = this.chainFor(def);
    const chain = resolved.chain;
    if (chain.length === 0) {
      let out: unknown;
      try {
        out = def.handler.call(def.target, args, ctx as never);
      } catch (err) {
        this.fail(st, codec, ctx, err);
        return;
      }
      if (isThenable(out)) {
        // Only a call still running after its handler returned needs to be tracked (Cancel, limits,
        // shutdown): a synchronous answer costs no map entry (issue #7).
        this.track(st, ctx);
        out.then(
          (value) => this.succeed(st, codec, resolved, ctx, value),
          (err: unknown) => this.fail(st, codec, ctx, err),
        );
      } else this.succeed(st, codec, resolved, ctx, out);
      return;
    }
    ctx.args = args;
    this.track(st, ctx);
    runChain(chain, ctx, async () => {
      ctx.result = await def.handler.call(def.target, ctx.args, ctx as never);
    }).then(
      () => this.succeed(st, codec, resolved, ctx, ctx.result),
      (err: unknown) => this.fail(st, codec, ctx, err),
    );
  }

  private chainFor(def: MethodDefinition): readonly ServerMiddleware[] {
    return [
      ...this.global,
      ...(this.scoped.get(def.service) ?? []),
      ...(this.scoped.get(`${def.service}.${def.name}`) ?? []),
    ];
  }

  private resetChains(): void {
    for (const table of this.methods.values()) for (const m of table.values()) m.chain = undefined;
  }

  /** Ends the call's bookkeeping; false when nobody waits for the answer any more. */
  private track(st: ConnState, ctx: CallContext): void {
    ctx.tracked = true;
    st.calls.set(ctx.requestId, ctx);
    this.inFlight++;
  }

  private settle(st: ConnState, ctx: CallContext): boolean {
    if (ctx.finished) return false;
    ctx.finish();
    if (ctx.tracked) {
      st.calls.delete(ctx.requestId);
      this.inFlight--;
    }
    if ((st.readEnded || st.goAwayId !== undefined) && st.calls.size === 0)
      queueMicrotask(() => void st.conn.end());
    return !st.conn.closed && ctx.aborted?.code !== Code.Cancelled;
  }

  private succeed(
    st: ConnState,
    codec: Codec,
    resolved: ResolvedMethod,
    ctx: CallContext,
    value: unknown,
  ): void {
    if (!this.settle(st, ctx)) return;
    let payload: Uint8Array;
    try {
      payload = codec.encode(value, resolved.responseSchema);
    } catch (err) {
      this.logger.error({ err, service: ctx.service, method: ctx.method }, 'result does not encode');
      this.sendError(
        st,
        codec.id,
        ctx.requestId,
        new RpcError(Code.Internal, 'result does not encode'),
        ctx.responseMetadataIfAny,
      );
      return;
    }
    st.conn.send({
      type: FrameType.Response,
      codec: codec.id,
      id: ctx.requestId,
      payload,
      metadata: ctx.responseMetadataIfAny,
    });
  }

  private fail(st: ConnState, codec: Codec, ctx: CallContext, reason: unknown): void {
    if (!this.settle(st, ctx)) return;
    let error: RpcError;
    if (reason instanceof RpcError) error = reason;
    else if (ctx.aborted !== undefined) error = ctx.aborted;
    else {
      error = RpcError.from(reason);
      this.logger.error({ err: reason, service: ctx.service, method: ctx.method }, 'handler threw');
    }
    this.sendError(st, codec.id, ctx.requestId, error, ctx.responseMetadataIfAny);
  }

  private refuse(st: ConnState, frame: Frame, code: Code, message: string): void {
    // Refusals are the caller's business (unknown method, limits, shutdown): info, so a misbehaving client
    // cannot flood the server's warnings. Broken peers (protocol errors) are logged as warnings by onClose.
    this.logger.info({ peer: st.conn.remoteAddress, requestId: frame.id, code }, message);
    this.sendError(st, frame.codec, frame.id, new RpcError(code, message), NOT_RUN);
  }

  private sendError(
    st: ConnState,
    codecId: number,
    id: number,
    error: RpcError,
    extra: Metadata | undefined,
  ): void {
    if (st.conn.closed) return;
    const metadata: Metadata = {};
    if (extra !== undefined) Object.assign(metadata, extra);
    for (const key in error.metadata)
      if (!key.startsWith(RESERVED_PREFIX) || key === MetadataKey.RetryAfter)
        metadata[key] = error.metadata[key] as string;
    metadata[MetadataKey.Status] = String(error.code);
    metadata[MetadataKey.Message] = error.rawMessage;
    if (error.details !== undefined) {
      try {
        metadata[MetadataKey.Details] = JSON.stringify(error.details);
      } catch {
        // Details that do not serialise are dropped rather than failing the error response.
      }
    }
    try {
      st.conn.send({ type: FrameType.Response, codec: codecId, id, metadata });
    } catch (err) {
      this.logger.warn({ err, id }, 'could not send error response');
    }
  }
}
