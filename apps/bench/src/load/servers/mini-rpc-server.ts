import type { ServerMiddleware } from '@mini-rpc/protocol';
import { createServer, method, service, silentLogger } from '@mini-rpc/server';
import { pino } from 'pino';
import { benchCodecs } from '../bench-codecs.js';
import type { ServerSpec } from '../case-spec.js';
import { optionalFn } from '../optional.js';
import { BENCH_TOKEN } from '../payload.js';
import type { BenchServer, CallCounter } from './bench-server.js';

/** The echo service: `echo` returns the `{ data }` bytes it got, `order` the order message. */
@service('Echo')
class Echo {
  private readonly counter: CallCounter;
  constructor(counter: CallCounter) {
    this.counter = counter;
  }
  @method({ idempotent: true })
  echo(args: unknown): unknown {
    this.counter.calls++;
    return args;
  }
  @method({ idempotent: true })
  order(args: unknown): unknown {
    this.counter.calls++;
    return args;
  }
}

const passThrough: ServerMiddleware = (_ctx, next) => next();

/** The middleware a scenario asks for: N pass-through layers, or the default chain (logs to /dev/null). */
async function middlewareFor(spec: ServerSpec): Promise<ServerMiddleware[]> {
  if (spec.middleware === undefined) return [];
  if (typeof spec.middleware === 'number') return Array.from({ length: spec.middleware }, () => passThrough);
  const defaultChain = await optionalFn<(o: object) => ServerMiddleware[]>('middleware', 'defaultChain');
  const staticTokens = await optionalFn<(t: object) => unknown>('middleware', 'staticTokens');
  const logger = pino({ level: 'info' }, pino.destination({ dest: '/dev/null', sync: false }));
  return defaultChain({
    logger,
    auth: { verify: staticTokens({ [BENCH_TOKEN]: 'bench' }) },
    // High enough never to refuse a call: we measure the limiter's cost, not its effect.
    rateLimit: { rate: 1e9, burst: 1e9 },
  });
}

/** A mini-rpc server serving Echo in JSON, MessagePack and Protobuf, with the scenario's middleware. */
export async function startMiniRpcServer(spec: ServerSpec, counter: CallCounter): Promise<BenchServer> {
  const codecs = benchCodecs();
  const server = createServer({
    logger: silentLogger,
    codecs: [codecs.json, codecs.msgpack, codecs.protobuf],
  });
  server.addService(new Echo(counter));
  const middleware = await middlewareFor(spec);
  if (middleware.length > 0) server.use(...middleware);
  const { port } = await server.listen({ port: 0, host: '127.0.0.1' });
  return { port, close: () => server.close({ graceMs: 200 }) };
}
