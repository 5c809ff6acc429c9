import type { Codec, CodecSchema } from '@mini-rpc/codec';
import type { Metadata, OutgoingFrame } from '@mini-rpc/protocol';
import { Code, FrameType, RpcError } from '@mini-rpc/protocol';
import type { ClientConnection, PendingCall } from './client-connection.js';

let capturedResolve!: (value: unknown) => void;
let capturedReject!: (error: RpcError) => void;
const captureSettlers = (resolve: (value: unknown) => void, reject: (error: RpcError) => void): void => {
  capturedResolve = resolve;
  capturedReject = reject;
};

/**
 * One request/response exchange on one connection. It is its own request frame (`OutgoingFrame`), its own
 * abort listener (`handleEvent`), and has no timer of its own: the client's deadline sweep
 * (`DeadlineSweep`) expires it. A call allocates this object and its promise (with the promise's two settle
 * functions), and no closures or timers of its own.
 */
export class Exchange implements PendingCall, OutgoingFrame {
  readonly type = FrameType.Request;
  /** Codec id of the request frame. */
  codec: number;
  rawMetadata: Uint8Array | undefined = undefined;
  metadata: Metadata | undefined = undefined;
  timeoutMs: number | undefined = undefined;
  payload: Uint8Array | undefined = undefined;
  readonly id: number;
  readonly responseCodec: Codec;
  readonly responseSchema: CodecSchema;
  private readonly conn: ClientConnection;
  private readonly signal: AbortSignal | undefined;
  /** Absolute deadline, `Date.now()` clock. */
  readonly deadline: number;
  private done = false;
  private onResolve!: (value: unknown) => void;
  private onReject!: (error: RpcError) => void;
  readonly promise: Promise<unknown>;

  constructor(
    id: number,
    conn: ClientConnection,
    codec: Codec,
    responseSchema: CodecSchema,
    deadline: number,
    signal: AbortSignal | undefined,
  ) {
    this.id = id;
    this.conn = conn;
    this.responseCodec = codec;
    this.codec = codec.id;
    this.responseSchema = responseSchema;
    this.signal = signal;
    // One shared executor instead of a closure per call: it runs synchronously and hands over the functions.
    this.promise = new Promise<unknown>(captureSettlers);
    this.onResolve = capturedResolve;
    this.onReject = capturedReject;
    this.deadline = deadline;
    signal?.addEventListener('abort', this);
  }

  resolve(value: unknown): void {
    if (this.finish()) this.onResolve(value);
  }

  reject(error: RpcError): void {
    if (this.finish()) this.onReject(error);
  }

  /** The deadline passed: stop waiting, tell the server. */
  expire(): void {
    if (this.done) return;
    this.conn.cancel(this.id);
    this.reject(new RpcError(Code.DeadlineExceeded, 'deadline exceeded waiting for the response'));
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    if (this.done) return;
    this.conn.cancel(this.id);
    const reason: unknown = this.signal?.reason;
    this.reject(
      reason instanceof RpcError ? reason : RpcError.from(reason ?? new Error('aborted'), Code.Cancelled),
    );
  }

  private finish(): boolean {
    if (this.done) return false;
    this.done = true;
    this.signal?.removeEventListener('abort', this);
    return true;
  }
}
