import { createClient } from '@mini-rpc/client';
import type { Codec } from '@mini-rpc/codec';
import { jsonCodec, msgpackCodec } from '@mini-rpc/codec';
import { codeName, RpcError } from '@mini-rpc/protocol';
import { createServer, silentLogger } from '@mini-rpc/server';
import { Greeter } from './greeter.js';
import { describeError, heading, item, say } from './print.js';
import { greeterProtobuf } from './protobuf.js';
import { waitUntil } from './wait-until.js';

/**
 * Section 1: one server and one client in this process. Calls in each codec, the typed proxy, `go()`,
 * errors (an unknown method, an RpcError thrown by the handler) and a deadline the server honours.
 */
export async function basics(): Promise<void> {
  heading('1. One call, end to end');
  const protobuf = greeterProtobuf();
  const greeterImpl = new Greeter('solo');
  const server = createServer({ codecs: [jsonCodec, msgpackCodec, protobuf], logger: silentLogger });
  server.addService(greeterImpl);
  const { host, port } = await server.listen({ host: '127.0.0.1', port: 0 });
  const client = createClient({ address: { host, port }, timeoutMs: 5_000 });
  try {
    say(`server listening on ${host}:${port}, serving Greeter (hello, greetFormally, slowHello)`);

    for (const codec of [jsonCodec, msgpackCodec, protobuf] as Codec[]) {
      const args = { name: 'Ada' };
      const bytes = codec.encode(args, { service: 'Greeter', method: 'hello', kind: 'request' }).byteLength;
      const reply = await client.call<{ text: string }>('Greeter', 'hello', args, { codec });
      item(
        `codec ${codec.name}`,
        `call('Greeter', 'hello', { name: 'Ada' }) -> "${reply.text}" (request ${bytes} bytes)`,
      );
    }

    // The proxy's type comes from the class: `import type { Greeter }`, no generated code.
    const greeter = client.service<Greeter>('Greeter');
    const formal = await greeter.greetFormally({ name: 'Lovelace', title: 'Countess' });
    item('typed proxy', `greeter.greetFormally({ name: 'Lovelace', title: 'Countess' }) -> "${formal.text}"`);

    const started = ['Alan', 'Grace', 'Edsger'].map((name) => client.go('Greeter', 'hello', { name }));
    item(
      'go()',
      `started ${started.length} calls without waiting; settled so far: ${started.filter((c) => c.settled).length}`,
    );
    const done = await Promise.all(started.map((c) => c.done));
    item('go()', `after await call.done: ${done.map((c) => (c.result as { text: string }).text).join(' ')}`);

    for (const [what, attempt] of [
      ['unknown method', () => client.call('Greeter', 'goodbye', { name: 'Ada' })],
      ['unknown service', () => client.call('Farewell', 'hello', { name: 'Ada' })],
      ['RpcError thrown', () => greeter.greetFormally({ name: 'Ada', title: ' ' })],
    ] as const) {
      const err = await attempt().then(
        () => undefined,
        (e: unknown) => e,
      );
      const details =
        err instanceof RpcError && err.details !== undefined ? ` details ${JSON.stringify(err.details)}` : '';
      item(`error: ${what}`, `${describeError(err)}${details}`);
    }

    const roomy = await greeter.slowHello({ name: 'Ada', ms: 20 }, { timeoutMs: 2_000 });
    item(
      'deadline',
      `slowHello taking 20 ms, timeout 2000 ms -> "${roomy.text}" (the server saw ${roomy.budgetMs} ms left)`,
    );
    const t0 = performance.now();
    const late = await greeter
      .slowHello({ name: 'Ada', ms: 5_000 }, { timeoutMs: 150 })
      .catch((e: unknown) => e);
    const took = Math.round(performance.now() - t0);
    const code = late instanceof RpcError ? codeName(late.code) : 'no error';
    await waitUntil(() => greeterImpl.abandoned === 1, 2_000);
    item('deadline', `slowHello taking 5000 ms, timeout 150 ms -> ${code} after ${took} ms`);
    item(
      '',
      `the server aborted ctx.signal and the handler stopped: ${greeterImpl.abandoned === 1 ? 'yes' : 'no'}`,
    );
  } finally {
    await client.close();
    await server.close({ graceMs: 1_000 });
  }
}
