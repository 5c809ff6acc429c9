import type { Codec, CodecSchema } from '@mini-rpc/codec';
import type { Frame, OutgoingFrame } from '@mini-rpc/protocol';
import { Code, FrameType, isProtocolError, MetadataKey, RequestMap, RpcError } from '@mini-rpc/protocol';
import type { Connection, ConnectOptions } from '@mini-rpc/transport';
import { connect } from '@mini-rpc/transport';
import { markUnprocessed } from './unprocessed.js';

/** One call waiting for its response. */
export interface PendingCall {
  readonly id: number;
  /** Absolute deadline (`Date.now()` clock); the client's deadline sweep calls `expire()` after it. */
  readonly deadline: number;
  expire(): void;
  readonly responseCodec: Codec;
  readonly responseSchema: CodecSchema;
  resolve(value: unknown): void;
  reject(error: RpcError): void;
}

/** Callbacks from a client connection to its pool. */
export interface ClientConnectionEvents {
  /** The connection cannot take new calls any more (GoAway or closed). */
  onRetire(connection: ClientConnection): void;
  /** A call on this connection ended; the pool may now close an idle or retired connection. */
  onIdle(connection: ClientConnection): void;
  /**
   * The server refused this client (GoAway with Unauthenticated or PermissionDenied, such as a client
   * certificate it rejects); the connection retires next. The pool backs off as after a failed connect.
   */
  onRefused(error: RpcError): void;
}

/**
 * How long a call without a deadline may still run on a retired connection (its instance left the
 * registry, or the pool trimmed it) before it fails with Unavailable, ms. Calls with a deadline run to it.
 */
export const NO_DEADLINE_DRAIN_MS = 60_000;

/** A status of decimal digits, and one that says 0 (success) in more than one digit. */
const DIGITS = /^\d+$/;
const ALL_ZEROS = /^0+$/;

/** Whether `error` refuses the caller itself (Unauthenticated, PermissionDenied): the same caller gets it again. */
export const isRefusal = (error: RpcError | undefined): boolean =>
  error !== undefined && (error.code === Code.Unauthenticated || error.code === Code.PermissionDenied);

const decodeFailure = (err: unknown): RpcError =>
  new RpcError(Code.Internal, `response does not decode: ${(err as Error).message}`, { cause: err });

/**
 * A transport connection seen from the client: the calls waiting on it, matched by request id.
 * Every pending call settles: on its response, on GoAway-then-close, or on connection loss.
 */
export class ClientConnection {
  readonly pending = new RequestMap<PendingCall>();
  /** Calls ever sent on this connection. */
  uses = 0;
  retired = false;
  idleSince = Date.now();
  /** Why the server is about to close the connection, when it said so (protocol-error GoAway). */
  private closeReason: RpcError | undefined;
  /** The server has answered a call here (so it accepted this client). */
  answered = false;
  /** Bounds how long calls without a deadline keep a retired connection open. */
  private drainTimer: NodeJS.Timeout | undefined;
  private conn!: Connection;
  private readonly events: ClientConnectionEvents;

  private constructor(events: ClientConnectionEvents) {
    this.events = events;
  }

  /** Connects; rejects with RpcError (Unavailable, Unauthenticated, Cancelled). */
  static async open(options: ConnectOptions, events: ClientConnectionEvents): Promise<ClientConnection> {
    const cc = new ClientConnection(events);
    cc.conn = await connect(options, {
      onFrame: (frame) => cc.onFrame(frame),
      onClose: (error) => cc.onClose(error),
    });
    return cc;
  }

  get closed(): boolean {
    return this.conn.closed;
  }

  get writable(): boolean {
    return this.conn.writable;
  }

  get remoteAddress(): string {
    return this.conn.remoteAddress;
  }

  /** Sends a request; throws RpcError (marked unprocessed) when the connection cannot take it. */
  send(call: PendingCall, frame: OutgoingFrame): void {
    if (this.retired)
      throw markUnprocessed(
        new RpcError(Code.Unavailable, `connection to ${this.remoteAddress} is draining`),
      );
    // Registered before the write: if the transport closes the connection inside send() (a frame that
    // cannot be written fails its whole batch), onClose fails this call too instead of leaving it in the
    // map of a dead connection, where no deadline sweep looks (client-connection.test.ts, "a send() during which…").
    this.pending.set(call.id, call);
    try {
      this.conn.send(frame);
    } catch (err) {
      this.pending.delete(call.id);
      throw markUnprocessed(RpcError.from(err, Code.Unavailable));
    }
    this.uses++;
  }

  /** Stops waiting for `id` (timeout or abort) and tells the server to stop working on it. */
  cancel(id: number): void {
    if (!this.pending.delete(id)) return;
    // A retired connection still carries Cancels until it ends (its calls are still running).
    if (!this.conn.closed) {
      try {
        this.conn.send({ type: FrameType.Cancel, codec: 0, id });
      } catch {
        // Best effort: the connection is going away anyway.
      }
    }
    this.afterCall();
  }

  /**
   * Takes no new calls; half-closes once the pending calls have settled (the server then closes). The
   * calls' deadlines bound that wait; calls without a deadline get {@link NO_DEADLINE_DRAIN_MS} more, then
   * fail with Unavailable. Ending earlier would not do: `end()` destroys the socket after the write timeout,
   * failing calls still running (pool.test.ts, "drain(): a slow call…").
   */
  retire(): void {
    if (this.retired) return;
    this.retired = true;
    if (this.pending.size === 0) void this.conn.end();
    else this.limitNoDeadlineCalls();
    this.events.onRetire(this);
  }

  /** Closes at once; pending calls fail with `error`. */
  destroy(error: RpcError): void {
    this.conn.close(error);
  }

  private onFrame(frame: Frame): void {
    if (frame.type === FrameType.Response) {
      this.answered = true;
      const call = this.pending.get(frame.id);
      if (call === undefined) return; // Timed out or cancelled meanwhile.
      this.pending.delete(frame.id);
      const md = frame.metadata;
      const status = md[MetadataKey.Status];
      if (status !== undefined && status !== '0' && !ALL_ZEROS.test(status)) {
        call.reject(errorFromMetadata(status, md));
      } else if (frame.codec !== call.responseCodec.id) {
        // docs/protocol.md §3.1: the answer comes in the request's codec. Bytes of another codec may well
        // decode (JSON `3` is MessagePack 51): a wrong result, silently, unless refused here.
        call.reject(
          new RpcError(
            Code.Internal,
            `response in codec ${frame.codec}, the request was sent in codec ${call.responseCodec.id}`,
          ),
        );
      } else {
        let value: unknown;
        try {
          value = call.responseCodec.decode(frame.payload, call.responseSchema);
        } catch (err) {
          call.reject(decodeFailure(err));
          this.afterCall();
          return;
        }
        call.resolve(value);
      }
      this.afterCall();
    } else if (frame.type === FrameType.GoAway) {
      // docs/protocol.md §3.5: calls up to frame.id will be answered; later ones were not run, so they fail
      // now, marked safe to retry elsewhere. No new calls go here.
      const lastId = frame.id;
      const reason = errorFromMetadata(
        frame.metadata[MetadataKey.Status] ?? String(Code.Unavailable),
        frame.metadata,
      );
      if (reason.code === Code.InvalidArgument || reason.code === Code.ResourceExhausted) {
        // A protocol error (docs/protocol.md §6): the server closes at once and says nothing about which
        // calls ran, so none may be marked safe to retry. They fail as Unavailable when it closes.
        this.closeReason = new RpcError(
          Code.Unavailable,
          `server closed the connection: ${reason.rawMessage}`,
          {
            cause: reason,
          },
        );
        this.retire();
        return;
      }
      // A refusal of the caller (a client certificate the server rejects: Unauthenticated) keeps its code:
      // another instance or a later attempt with the same credentials gets the same answer, and the caller
      // must learn why. Any other reason is the server's own (closing, over its connection limit).
      const callerRefused = isRefusal(reason);
      if (callerRefused) this.events.onRefused(new RpcError(reason.code, reason.rawMessage));
      for (const call of this.pending.values()) {
        if (call.id <= lastId) continue;
        this.pending.delete(call.id);
        call.reject(
          markUnprocessed(
            callerRefused
              ? new RpcError(reason.code, reason.rawMessage)
              : new RpcError(Code.Unavailable, `not run: ${reason.rawMessage}`),
          ),
        );
      }
      this.retire();
      if (this.pending.size === 0) this.events.onIdle(this);
    }
  }

  private onClose(error: RpcError | undefined): void {
    this.retired = true;
    clearTimeout(this.drainTimer);
    const reason =
      error ??
      this.closeReason ??
      new RpcError(Code.Unavailable, `connection to ${this.remoteAddress} closed`);
    // A bad frame from the server is the server's fault, and its calls' fate is unknown: Unavailable, like a
    // lost connection (docs/protocol.md §6), not the ProtocolError's own code (InvalidArgument is a caller
    // error, which a breaker would never hold against the server).
    const local = isProtocolError(reason);
    const code = reason.code === Code.OK || local ? Code.Unavailable : reason.code;
    const message = local ? `bad frame from the server: ${reason.rawMessage}` : reason.rawMessage;
    const calls = this.pending.values();
    this.pending.clear();
    for (const call of calls) call.reject(new RpcError(code, message, { cause: reason }));
    this.events.onRetire(this);
  }

  private afterCall(): void {
    if (this.pending.size === 0) {
      this.idleSince = Date.now();
      if (this.retired && !this.conn.closed) void this.conn.end();
      this.events.onIdle(this);
    }
  }

  /** On a retired connection, fails the calls without a deadline once they have had NO_DEADLINE_DRAIN_MS. */
  private limitNoDeadlineCalls(): void {
    let unbounded = false;
    for (const call of this.pending.values()) if (!Number.isFinite(call.deadline)) unbounded = true;
    if (!unbounded) return;
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      for (const call of this.pending.values()) {
        if (Number.isFinite(call.deadline)) continue;
        this.cancel(call.id);
        call.reject(
          new RpcError(
            Code.Unavailable,
            `connection to ${this.remoteAddress} drained: no answer within ${NO_DEADLINE_DRAIN_MS} ms`,
          ),
        );
      }
    }, NO_DEADLINE_DRAIN_MS);
    this.drainTimer.unref();
  }
}

/** Rebuilds the RpcError a server sent. */
export function errorFromMetadata(status: string, md: Record<string, string>): RpcError {
  let details: unknown;
  const raw = md[MetadataKey.Details];
  if (raw !== undefined) {
    try {
      details = JSON.parse(raw);
    } catch {
      details = raw;
    }
  }
  const extra: Record<string, string> = {};
  // User keys and the retry hint reach the caller; the other reserved keys are already in code/message/details.
  for (const key in md)
    if (!key.startsWith(':') || key === MetadataKey.RetryAfter) extra[key] = md[key] as string;
  // Decimal digits only (docs/protocol.md §3.2): Number('') and Number(' 14') would read as codes.
  const code = DIGITS.test(status) ? Number(status) : Number.NaN;
  const error = RpcError.fromWire(code, md[MetadataKey.Message] ?? '', details, extra);
  // The server refused the call before running it: safe to retry anywhere (docs/protocol.md §4.2).
  if (md[MetadataKey.NotRun] === '1') markUnprocessed(error);
  return error;
}
