import type { Codec, CodecSchema } from '@mini-rpc/codec';
import type { Frame, Metadata, RequestMap, ServerMiddleware } from '@mini-rpc/protocol';
import {
  Code,
  FrameType,
  isThenable,
  MetadataKey,
  RESERVED_PREFIX,
  RpcError,
  userMetadataProblem,
} from '@mini-rpc/protocol';
import type { Connection } from '@mini-rpc/transport';
import { CallContext } from './call-context.js';
import { runChain } from './chain.js';
import type { Logger } from './logger.js';
import type { MethodDefinition, ServiceDefinition } from './service-definition.js';

/** A `:t` that is 0 written in digits (the deadline has passed), as opposed to an empty or blank one. */
const ALL_ZEROS = /^0+$/;

/** What the server keeps per connection. */
export interface ConnState {
  readonly conn: Connection;
  readonly calls: RequestMap<CallContext>;
  readEnded: boolean;
  /** Highest request id accepted on this connection. */
  maxId: number;
  /** Set once GoAway went out: the highest id that will still be answered (docs/protocol.md §3.5). */
  goAwayId: number | undefined;
  /** Runs while calls with a deadline may be in flight on the connection (see `Dispatcher.sweep`). */
  sweep: NodeJS.Timeout | undefined;
}

interface ResolvedMethod {
  readonly def: MethodDefinition;
  readonly requestSchema: CodecSchema;
  readonly responseSchema: CodecSchema;
  chain: readonly ServerMiddleware[] | undefined;
}

const RESOLVED = Promise.resolve();

/**
 * How often a connection with calls that have a deadline looks for calls past it, ms. The caller's client
 * gives up at the deadline on its own; this answers it and frees the call's slot even if the handler never
 * settles and no Cancel comes.
 */
export const DEADLINE_SWEEP_MS = 25;

/** Characters of an error message kept when the whole error response is over the connection's maxMetadata. */
const SHORT_MESSAGE = 1024;

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
    if (st.sweep !== undefined) {
      clearInterval(st.sweep);
      st.sweep = undefined;
    }
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
      // Number('') and Number(' ') are 0 too: only digits may say that the deadline has passed.
      if (!(ms >= 0) || (ms === 0 && !ALL_ZEROS.test(t))) {
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
    ctx.codecId = codec.id;
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
      ctx.handlerRan = true;
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
      (err: unknown) => this.fail(st, codec, ctx, err, !ctx.handlerRan),
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
    if (ctx.deadline !== undefined && st.sweep === undefined) {
      // One timer per connection while calls with a deadline run, never one per call: it stops at the
      // first sweep that finds none, and the next such call starts it again.
      st.sweep = setInterval(() => this.sweep(st), DEADLINE_SWEEP_MS);
      st.sweep.unref();
    }
  }

  /**
   * Answers DeadlineExceeded for the connection's calls past their deadline and forgets them, aborting their
   * signal: a handler that ignores it no longer holds a slot (docs/lifecycle.md §6).
   */
  private sweep(st: ConnState): void {
    const now = Date.now();
    let waiting = false;
    st.calls.forEach((ctx) => {
      const deadline = ctx.deadline;
      if (deadline === undefined) return;
      if (deadline > now) {
        waiting = true;
        return;
      }
      const error = new RpcError(Code.DeadlineExceeded, 'deadline exceeded');
      ctx.abort(error);
      if (!this.settle(st, ctx)) return;
      this.logger.info(
        { service: ctx.service, method: ctx.method, requestId: ctx.requestId },
        'deadline passed while the handler ran: answered DeadlineExceeded',
      );
      this.sendError(st, ctx.codecId, ctx.requestId, error, ctx.responseMetadataIfAny);
    });
    if (!waiting && st.sweep !== undefined) {
      clearInterval(st.sweep);
      st.sweep = undefined;
    }
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
    const metadata = ctx.responseMetadataIfAny;
    const problem = metadata === undefined ? undefined : userMetadataProblem(metadata);
    if (problem !== undefined) {
      this.logger.error({ service: ctx.service, method: ctx.method }, `response metadata ${problem}`);
      this.sendError(
        st,
        codec.id,
        ctx.requestId,
        new RpcError(Code.Internal, `response metadata ${problem}`),
      );
      return;
    }
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
        metadata,
      );
      return;
    }
    try {
      st.conn.send({ type: FrameType.Response, codec: codec.id, id: ctx.requestId, payload, metadata });
    } catch (err) {
      // Over the payload limit, or the peer stopped reading and the write queue is full: the caller gets
      // an error frame instead (payload-less frames always queue), never silence.
      if (st.conn.closed) return;
      const reason = RpcError.from(err, Code.Internal);
      // warn, not error: a peer that stops reading would flood the error log, one line per answer.
      this.logger.warn({ err, service: ctx.service, method: ctx.method }, 'response not sent');
      const code = reason.code === Code.ResourceExhausted ? Code.ResourceExhausted : Code.Internal;
      this.sendError(
        st,
        codec.id,
        ctx.requestId,
        new RpcError(code, `response not sent: ${reason.rawMessage}`),
        metadata,
      );
    }
  }

  /**
   * Answers a call whose handler or middleware threw. Runs inside promise handlers, so it must not throw
   * (an unhandled rejection ends the process): `instanceof RpcError` and `RpcError.from` never do, whatever
   * was thrown, and the server's logger is guarded (`guardedLogger`). A call whose middleware failed before the handler was
   * reached is marked not run (`:u`): a rate limit's or auth's refusal may be retried like a server's own.
   */
  private fail(st: ConnState, codec: Codec, ctx: CallContext, reason: unknown, beforeHandler = false): void {
    if (!this.settle(st, ctx)) return;
    let error: RpcError;
    if (reason instanceof RpcError) error = reason;
    else if (ctx.aborted !== undefined) error = ctx.aborted;
    else {
      error = RpcError.from(reason);
      this.logger.error({ err: reason, service: ctx.service, method: ctx.method }, 'handler threw');
    }
    this.sendError(st, codec.id, ctx.requestId, error, ctx.responseMetadataIfAny, beforeHandler);
  }

  private refuse(st: ConnState, frame: Frame, code: Code, message: string): void {
    // Refusals are the caller's business (unknown method, limits, shutdown): info, so a misbehaving client
    // cannot flood the server's warnings. Broken peers (protocol errors) are logged as warnings by onClose.
    this.logger.info({ peer: st.conn.remoteAddress, requestId: frame.id, code }, message);
    this.sendError(st, frame.codec, frame.id, new RpcError(code, message), undefined, true);
  }

  /**
   * Answers `id` with `error`. `extra` is the handler's response metadata (entries that are not strings or
   * use a reserved key are dropped: the error must still go out); `notRun` marks a refusal.
   */
  private sendError(
    st: ConnState,
    codecId: number,
    id: number,
    error: RpcError,
    extra?: Metadata,
    notRun = false,
  ): void {
    if (st.conn.closed) return;
    const message = error.rawMessage;
    const metadata: Metadata = {};
    if (extra !== undefined) copyUserMetadata(metadata, extra);
    for (const key in error.metadata) {
      const value = error.metadata[key];
      if (typeof value === 'string' && (!key.startsWith(RESERVED_PREFIX) || key === MetadataKey.RetryAfter))
        metadata[key] = value;
    }
    if (notRun) metadata[MetadataKey.NotRun] = '1';
    metadata[MetadataKey.Status] = String(error.code);
    metadata[MetadataKey.Message] = message;
    if (error.details !== undefined) {
      try {
        metadata[MetadataKey.Details] = JSON.stringify(error.details);
      } catch {
        // Details that do not serialise are dropped rather than failing the error response.
      }
    }
    try {
      st.conn.send({ type: FrameType.Response, codec: codecId, id, metadata });
      return;
    } catch (err) {
      // The connection is ending (GoAway, peer half-closed): its close fails the caller's call.
      if (err instanceof RpcError && err.code === Code.Unavailable) {
        this.logger.info({ err, id }, 'error response not sent: connection ending');
        return;
      }
      this.logger.warn({ err, id }, 'error response not sent in full; sending code and a short message');
    }
    // Over the connection's maxMetadata (a long message, large details or metadata): the code and the start
    // of the message still fit.
    const short: Metadata = { [MetadataKey.Status]: String(error.code) };
    short[MetadataKey.Message] =
      message.length > SHORT_MESSAGE ? `${message.slice(0, SHORT_MESSAGE)}…` : message;
    if (notRun) short[MetadataKey.NotRun] = '1';
    try {
      st.conn.send({ type: FrameType.Response, codec: codecId, id, metadata: short });
    } catch (err) {
      // The caller must not wait for an answer that never comes: closing the connection fails its calls.
      this.logger.error({ err, id }, 'could not send error response');
      st.conn.close(new RpcError(Code.Internal, `could not answer call ${id}`));
    }
  }
}

/** Copies the entries of `source` that may go out as user metadata. */
function copyUserMetadata(target: Metadata, source: Metadata): void {
  for (const key in source) {
    const value: unknown = source[key];
    if (typeof value === 'string' && !key.startsWith(RESERVED_PREFIX)) target[key] = value;
  }
}
