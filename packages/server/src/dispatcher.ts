import type { Codec, CodecSchema } from '@mini-rpc/codec';
import type { Frame, Metadata, RequestMap, ServerMiddleware } from '@mini-rpc/protocol';
import { Code, FrameType, isThenable, MetadataKey, RESERVED_PREFIX, RpcError } from '@mini-rpc/protocol';
import type { Connection } from '@mini-rpc/transport';
import { CallContext } from './call-context.js';
import { runChain } from './chain.js';
import type { Logger } from './logger.js';
import type { MethodDefinition, ServiceDefinition } from './service-definition.js';

/** What the server keeps per connection. */
export interface ConnState {
  readonly conn: Connection;
  readonly calls: RequestMap<CallContext>;
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

/** Marks refusals that happened before any handler ran (docs/protocol.md §4.2, `:u`). */
const NOT_RUN: Metadata = { [MetadataKey.NotRun]: '1' };

const RESOLVED = Promise.resolve();

/**
 * Turns Request and Cancel frames into handler calls and answers: method lookup, limits, decoding, the
 * middleware chain, and the response or error frame (docs/lifecycle.md §4–6). One per server.
 */
export class Dispatcher {
  /** Calls running now, across connections. */
  inFlight = 0;
  private readonly logger: Logger;
  private readonly codecs: (Codec | undefined)[] = [];
  private readonly maxInFlight: number;
  private readonly methods = new Map<string, Map<string, ResolvedMethod>>();
  private readonly global: ServerMiddleware[] = [];
  private readonly scoped = new Map<string, ServerMiddleware[]>();

  constructor(
    logger: Logger,
    codecs: readonly Codec[],
    maxInFlight: number,
    middleware: readonly ServerMiddleware[],
  ) {
    this.logger = logger;
    for (const codec of codecs) this.codecs[codec.id] = codec;
    this.maxInFlight = maxInFlight;
    this.global.push(...middleware);
  }

  addService(def: ServiceDefinition): void {
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
  }

  use(middleware: readonly ServerMiddleware[]): void {
    this.global.push(...middleware);
    this.resetChains();
  }

  useFor(target: string, middleware: readonly ServerMiddleware[]): void {
    const list = this.scoped.get(target) ?? [];
    list.push(...middleware);
    this.scoped.set(target, list);
    this.resetChains();
  }

  /** The connection is gone: abort and forget its calls. */
  dropAll(st: ConnState, error: RpcError | undefined): void {
    for (const ctx of st.calls.values()) {
      ctx.abort(error ?? new RpcError(Code.Cancelled, 'connection closed'));
      ctx.finish();
    }
    this.inFlight -= st.calls.size;
    st.calls.clear();
  }

  onFrame(st: ConnState, frame: Frame): void {
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
    // Not an async function: a synchronous handler's answer costs no extra promise and await (issue #7).
    runChain(chain, ctx, () => {
      let out: unknown;
      try {
        out = def.handler.call(def.target, ctx.args, ctx as never);
      } catch (err) {
        return Promise.reject(err);
      }
      if (isThenable(out)) {
        return Promise.resolve(out).then((value) => {
          ctx.result = value;
        });
      }
      ctx.result = out;
      return RESOLVED;
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
