import type { Metadata, ServerContext } from '@mini-rpc/protocol';
import { Code, createMetadata, RpcError } from '@mini-rpc/protocol';

const MAX_TIMER_MS = 0x7fff_ffff;

/**
 * The `ctx` of one incoming call. The AbortSignal, its deadline timer, the response metadata and the state
 * bag are created only when a handler or middleware touches them: a handler that never looks pays nothing.
 */
export class CallContext implements ServerContext {
  readonly service: string;
  readonly method: string;
  readonly requestId: number;
  readonly metadata: Metadata;
  readonly peer: string;
  readonly deadline: number | undefined;
  args: unknown = undefined;
  result: unknown = undefined;
  /** Set once the call ended (answered, cancelled or its connection dropped). */
  finished = false;
  /** Set when the server tracks the call among its connection's calls in flight. */
  tracked = false;
  /** Set when the middleware chain reached the handler: a failure before it is answered as not run. */
  handlerRan = false;
  /** The codec the call came in (and is answered) with. */
  codecId = 0;
  private controller: AbortController | undefined;
  private timer: NodeJS.Timeout | undefined;
  private abortReason: RpcError | undefined;
  private responseMd: Metadata | undefined;
  private stateBag: Record<string, unknown> | undefined;

  constructor(
    service: string,
    method: string,
    requestId: number,
    metadata: Metadata,
    peer: string,
    deadline: number | undefined,
  ) {
    this.service = service;
    this.method = method;
    this.requestId = requestId;
    this.metadata = metadata;
    this.peer = peer;
    this.deadline = deadline;
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
      else if (this.deadline !== undefined && !this.finished) {
        const left = this.deadline - Date.now();
        const expire = (): void => this.abort(new RpcError(Code.DeadlineExceeded, 'deadline exceeded'));
        if (left <= 0) expire();
        // Node clamps delays above 2^31−1 ms (~24.8 days) to 1 ms; such a deadline is "none" in practice.
        else if (left <= MAX_TIMER_MS) {
          this.timer = setTimeout(expire, left);
          this.timer.unref();
        }
      }
    }
    return this.controller.signal;
  }

  get responseMetadata(): Metadata {
    this.responseMd ??= createMetadata();
    return this.responseMd;
  }

  get state(): Record<string, unknown> {
    this.stateBag ??= {};
    return this.stateBag;
  }

  /** Response metadata if any was set. */
  get responseMetadataIfAny(): Metadata | undefined {
    return this.responseMd;
  }

  /** The reason the call was aborted, if it was. */
  get aborted(): RpcError | undefined {
    return this.abortReason;
  }

  /** Aborts the handler's signal (deadline, Cancel frame, connection loss, shutdown). */
  abort(reason: RpcError): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
  }

  /** Releases the deadline timer. */
  finish(): void {
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }
}
