import type { Metadata, ServerContext, ServerMiddleware } from '@mini-rpc/protocol';
import { createMetadata } from '@mini-rpc/protocol';

/** A handler as the tests use it: gets the context, returns the result. */
export type TestHandler = (ctx: ServerContext) => unknown;

/**
 * Runs `chain` around `handler` in onion order (first = outermost), the way the server will: the innermost
 * step stores the handler's result in `ctx.result`. Guards against a middleware calling `next` twice.
 */
export function compose(
  chain: readonly ServerMiddleware[],
  handler: TestHandler,
): (ctx: ServerContext) => Promise<void> {
  return (ctx) => {
    let last = -1;
    const dispatch = async (i: number): Promise<void> => {
      if (i <= last) throw new Error('next() called twice');
      last = i;
      const middleware = chain[i];
      if (middleware === undefined) {
        ctx.result = await handler(ctx);
        return;
      }
      await middleware(ctx, () => dispatch(i + 1));
    };
    return dispatch(0);
  };
}

/** Overrides for {@link makeContext}. */
export interface ContextInit {
  service?: string;
  method?: string;
  requestId?: number;
  metadata?: Record<string, string>;
  peer?: string;
  deadline?: number;
  signal?: AbortSignal;
  args?: unknown;
}

let nextRequestId = 1;

/** A hand-built ServerContext, as the server would make for one call. */
export function makeContext(init: ContextInit = {}): ServerContext {
  const metadata: Metadata = createMetadata();
  Object.assign(metadata, init.metadata);
  return {
    service: init.service ?? 'Greeter',
    method: init.method ?? 'hello',
    requestId: init.requestId ?? nextRequestId++,
    metadata,
    responseMetadata: createMetadata(),
    peer: init.peer ?? '127.0.0.1:50123',
    deadline: init.deadline,
    signal: init.signal ?? new AbortController().signal,
    args: init.args ?? [],
    result: undefined,
    state: {},
  };
}

/** A logger that records what each level receives. */
export function recordingLogger(enabledLevels?: readonly string[]) {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const method = (level: string) => (obj: Record<string, unknown>, msg: string) => {
    lines.push({ level, obj, msg });
  };
  return {
    lines,
    trace: method('trace'),
    debug: method('debug'),
    info: method('info'),
    warn: method('warn'),
    error: method('error'),
    fatal: method('fatal'),
    isLevelEnabled: (level: string) => enabledLevels === undefined || enabledLevels.includes(level),
  };
}

/** The rejection of `promise`, failing the test when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}
