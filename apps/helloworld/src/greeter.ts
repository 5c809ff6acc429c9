import type { ServerContext } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { method, service } from '@mini-rpc/server';

/** What `hello` takes. */
export interface HelloRequest {
  name: string;
}

/** What the greetings return: the text and the instance that answered. */
export interface HelloReply {
  text: string;
  from: string;
}

/** What `slowHello` returns: a greeting, and how much of the caller's deadline was left on arrival. */
export interface SlowReply extends HelloReply {
  /** Milliseconds between the call's arrival and its deadline, as the server saw it; -1 without one. */
  budgetMs: number;
}

/**
 * The example service. The class is the whole contract: the client imports it with `import type` and
 * `client.service<Greeter>('Greeter')` gives a typed proxy, with no code generation.
 *
 * @example
 * ```ts
 * const server = createServer();
 * server.addService(new Greeter('a'));
 * await server.listen({ port: 4000 });
 * ```
 */
@service('Greeter')
export class Greeter {
  /** The name this instance answers with (`from` in replies). */
  readonly instance: string;
  /** Calls this instance served (for the spread tables). */
  served = 0;
  /** Calls whose deadline passed while `slowHello` was waiting. */
  abandoned = 0;

  constructor(instance = 'greeter') {
    this.instance = instance;
  }

  /** Says hello. Marked idempotent: running it twice is harmless, so a client may retry it. */
  @method({ idempotent: true })
  hello({ name }: HelloRequest): HelloReply {
    this.served++;
    return { text: `Hello, ${name}!`, from: this.instance };
  }

  /**
   * Says hello with a title. An empty title is the caller's mistake: it throws an RpcError, which reaches
   * the caller with its code, message and details (never a stack).
   */
  @method()
  greetFormally({ name, title }: { name: string; title: string }): HelloReply {
    this.served++;
    if (title.trim() === '') {
      throw new RpcError(Code.InvalidArgument, 'a formal greeting needs a title', {
        details: { field: 'title' },
      });
    }
    return { text: `Good day, ${title} ${name}.`, from: this.instance };
  }

  /**
   * Takes `ms` to answer, unless the caller's deadline passes first: `ctx.signal` aborts at the deadline,
   * the work stops at once, and the server answers DeadlineExceeded.
   */
  @method()
  async slowHello({ name, ms }: { name: string; ms: number }, ctx: ServerContext): Promise<SlowReply> {
    this.served++;
    const budgetMs = ctx.deadline === undefined ? -1 : ctx.deadline - Date.now();
    try {
      await delay(ms, ctx.signal);
    } catch (err) {
      this.abandoned++;
      throw err;
    }
    return { text: `Hello at last, ${name}.`, from: this.instance, budgetMs };
  }
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The `.proto` of the Greeter, for the Protobuf codec (JSON and MessagePack need no schema). */
export const GREETER_PROTO = `
syntax = "proto3";
package greeter;
message HelloRequest { string name = 1; }
message HelloReply { string text = 1; string from = 2; }
message FormalRequest { string name = 1; string title = 2; }
message SlowRequest { string name = 1; int32 ms = 2; }
message SlowReply { string text = 1; string from = 2; int32 budget_ms = 3; }
`;

/** Which message types each Greeter method uses, for `createProtobufCodec`. */
export const GREETER_PROTO_METHODS = {
  'Greeter.hello': { request: 'greeter.HelloRequest', response: 'greeter.HelloReply' },
  'Greeter.greetFormally': { request: 'greeter.FormalRequest', response: 'greeter.HelloReply' },
  'Greeter.slowHello': { request: 'greeter.SlowRequest', response: 'greeter.SlowReply' },
} as const;
