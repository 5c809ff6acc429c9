import { createRequire } from 'node:module';
import type { Client, ClientOptions } from '@mini-rpc/client';
import { createClient } from '@mini-rpc/client';
import type { ErrorLogger, LevelLogger, MetricsOptions } from '@mini-rpc/middleware';
import type { ServerContext } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import type { Server, ServerOptions } from '@mini-rpc/server';
import { createServer, method, service, silentLogger } from '@mini-rpc/server';
import type { Cleanup } from '../../../tooling/testing/harness.js';
import { createCleanups } from '../../../tooling/testing/harness.js';

/** A prom-client registry, typed through @mini-rpc/middleware's own declarations. */
export type Registry = NonNullable<MetricsOptions['registry']>;

/** A pino logger as the middleware uses it. */
export type Logger = ErrorLogger & LevelLogger;

// pino and prom-client are dependencies of @mini-rpc/middleware, not of this app: load the very copies the
// middleware uses, resolved from its own location (so `instanceof` and shared registries agree).
const besideMiddleware = createRequire(createRequire(import.meta.url).resolve('@mini-rpc/middleware'));
const promClient = besideMiddleware('prom-client') as { Registry: new () => Registry };
const pino = besideMiddleware('pino') as (
  options: { level: string; base?: undefined },
  stream: { write(line: string): void },
) => Logger;

/** A fresh prom-client registry (each test its own, so counts start at zero). */
export function newRegistry(): Registry {
  return new promClient.Registry();
}

/** A real pino logger writing JSON lines into `lines` (parsed), at `level` and above. */
export function captureLogs(level = 'info'): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = {
    write(chunk: string): void {
      for (const text of chunk.split('\n'))
        if (text !== '') lines.push(JSON.parse(text) as Record<string, unknown>);
    },
  };
  return { logger: pino({ level, base: undefined }, stream), lines };
}

/** A server logger that records what the server itself logs at warn and error. */
export function recordingServerLogger(): {
  logger: NonNullable<ServerOptions['logger']>;
  errors: { obj: object; msg: string }[];
} {
  const errors: { obj: object; msg: string }[] = [];
  return {
    logger: { info: () => {}, warn: () => {}, error: (obj, msg) => errors.push({ obj, msg }) },
    errors,
  };
}

/** Message of the handler errors below: what must never reach a caller. */
export const SECRET = 'db password=hunter2 at /srv/app/db.ts';

/**
 * The service of the middleware tests: each method counts its runs (so a test can prove that a refused call
 * never ran) and records the context it saw.
 */
@service('Shop')
export class Shop {
  readonly runs: Record<string, number> = {};
  readonly seen: ServerContext[] = [];
  /** Reasons the signal of `hang` calls aborted with, in order. */
  readonly aborts: unknown[] = [];
  /** Resolvers of the `held` calls waiting now. */
  readonly held: (() => void)[] = [];

  private ran(name: string, ctx: ServerContext): void {
    this.runs[name] = (this.runs[name] ?? 0) + 1;
    this.seen.push(ctx);
  }

  @method()
  add({ a, b }: { a: number; b: number }, ctx: ServerContext): number {
    this.ran('add', ctx);
    return a + b;
  }

  @method()
  missing({ id }: { id: string }, ctx: ServerContext): never {
    this.ran('missing', ctx);
    throw new RpcError(Code.NotFound, `no item ${id}`);
  }

  @method()
  notReady(_args: unknown, ctx: ServerContext): never {
    this.ran('notReady', ctx);
    throw new RpcError(Code.FailedPrecondition, 'not ready');
  }

  @method()
  explode(_args: unknown, ctx: ServerContext): never {
    this.ran('explode', ctx);
    throw new Error(SECRET);
  }

  @method()
  rejects(_args: unknown, ctx: ServerContext): Promise<never> {
    this.ran('rejects', ctx);
    return Promise.reject(new TypeError(SECRET));
  }

  @method()
  throwsValue(_args: unknown, ctx: ServerContext): never {
    this.ran('throwsValue', ctx);
    throw { reason: SECRET };
  }

  /** Never settles; records why its signal aborted. */
  @method()
  hang(_args: unknown, ctx: ServerContext): Promise<never> {
    this.ran('hang', ctx);
    ctx.signal.addEventListener('abort', () => this.aborts.push(ctx.signal.reason), { once: true });
    return new Promise<never>(() => {});
  }

  /** Waits until the test calls the resolver it pushed to `held`. */
  @method()
  async hold(_args: unknown, ctx: ServerContext): Promise<string> {
    this.ran('hold', ctx);
    await new Promise<void>((resolve) => this.held.push(resolve));
    return 'released';
  }

  /** Does `ms` of (timer) work, so a duration is known to be at least that long. */
  @method()
  async work({ ms }: { ms: number }, ctx: ServerContext): Promise<number> {
    this.ran('work', ctx);
    await new Promise((resolve) => setTimeout(resolve, ms));
    return ms;
  }

  @method()
  whoami(_args: unknown, ctx: ServerContext): string {
    this.ran('whoami', ctx);
    return (ctx.state.identity as { subject: string }).subject;
  }

  @method()
  drop(_args: unknown, ctx: ServerContext): string {
    this.ran('drop', ctx);
    return 'dropped';
  }
}

/** Starts and stops servers and clients for one test file; call `cleanup()` in `afterEach`. */
export function harness() {
  const cleanups = createCleanups();
  return {
    /** Runs every registered clean-up, last first. */
    cleanup: (): Promise<void> => cleanups.run(),
    /** Registers a clean-up. */
    defer(fn: Cleanup): void {
      cleanups.push(fn);
    },
    /** A listening server on 127.0.0.1 with `services` (default: a new Shop). */
    async serve(
      options: ServerOptions = {},
      services: object[] = [new Shop()],
    ): Promise<{ server: Server; port: number; address: string }> {
      const server = createServer({ logger: silentLogger, ...options });
      for (const s of services) server.addService(s);
      const { port } = await server.listen({ host: '127.0.0.1' });
      cleanups.push(() => server.close({ graceMs: 200 }));
      return { server, port, address: `127.0.0.1:${port}` };
    },
    /** A client of `address`, closed at clean-up. */
    connect(address: string, options: Omit<ClientOptions, 'address'> = {}): Client {
      const client = createClient({ address, timeoutMs: 5_000, ...options });
      cleanups.push(() => client.close());
      return client;
    },
  };
}

/** Settles `promise` and returns what it rejected with (fails the test if it resolved). */
export async function rejection(promise: Promise<unknown>): Promise<RpcError> {
  const outcome = await promise.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  if (!(outcome.error instanceof RpcError)) throw outcome.error;
  return outcome.error;
}

/** The samples of metric `name` in `registry` (runs its collect), keyed by `k=v,k=v` of the labels in order. */
export async function samples(registry: Registry, name: string): Promise<Map<string, number>> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) throw new Error(`metric ${name} is not registered`);
  const { values } = await metric.get();
  const out = new Map<string, number>();
  for (const v of values) {
    const labels = Object.entries(v.labels)
      .map(([k, x]) => `${k}=${String(x)}`)
      .join(',');
    const key =
      'metricName' in v && v.metricName !== undefined && v.metricName !== name
        ? `${v.metricName}|${labels}`
        : labels;
    out.set(key, v.value);
  }
  return out;
}

/** Parses Prometheus text exposition into `name{labels}` → value (labels as printed). */
export function parseExposition(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}
