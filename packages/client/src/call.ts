import { RpcError } from '@mini-rpc/protocol';
import type { CallOptions } from './call-options.js';

/**
 * A call started by `client.go()` (the seed's asynchronous Go): await `done`, or look at `settled`,
 * `result` and `error` later. `cancel()` aborts it with Cancelled.
 */
export interface Call<TRes> {
  readonly service: string;
  readonly method: string;
  readonly args: unknown;
  /** Resolves (never rejects) with this call once it has settled. */
  readonly done: Promise<Call<TRes>>;
  readonly settled: boolean;
  readonly result: TRes | undefined;
  readonly error: RpcError | undefined;
  cancel(reason?: string): void;
}

/** Starts `run` with a signal that `cancel()` aborts, and records how it ends. */
export function createCall<TRes>(
  service: string,
  method: string,
  args: unknown,
  options: CallOptions,
  run: (options: CallOptions) => Promise<TRes>,
): Call<TRes> {
  const controller = new AbortController();
  const signal =
    options.signal === undefined ? controller.signal : AbortSignal.any([options.signal, controller.signal]);
  const call = {
    service,
    method,
    args,
    settled: false,
    result: undefined as TRes | undefined,
    error: undefined as RpcError | undefined,
    done: undefined as unknown as Promise<Call<TRes>>,
    cancel(reason = 'cancelled by the caller') {
      controller.abort(new RpcError(1, reason));
    },
  };
  call.done = run({ ...options, signal }).then(
    (value) => {
      call.result = value;
      call.settled = true;
      return call;
    },
    (err: unknown) => {
      call.error = RpcError.from(err);
      call.settled = true;
      return call;
    },
  );
  return call;
}
