// Calls a Greeter started with `server.ts` (another terminal, another process):
//   pnpm --filter @mini-rpc/helloworld run client --address 127.0.0.1:4000 --name Ada
import { createClient } from '@mini-rpc/client';
import type { Codec } from '@mini-rpc/codec';
import { jsonCodec, msgpackCodec } from '@mini-rpc/codec';
import { RpcError } from '@mini-rpc/protocol';
import { argsOrUsage } from './args-or-usage.js';
import type { Greeter } from './greeter.js';
import { openRegistry } from './open-registry.js';
import { describeError } from './print.js';
import { greeterProtobuf } from './protobuf.js';

const USAGE = `usage: node dist/client.js (--address <host:port> | --registry etcd://host:port) [--name <who>] [--codec json|msgpack|protobuf]

  --address    the server's address, as server.js printed it
  --registry   find the Greeter in etcd instead (the server ran with --registry)
  --name       who to greet; default World
  --codec      default msgpack`;

const values = argsOrUsage(
  {
    address: { type: 'string' },
    registry: { type: 'string' },
    name: { type: 'string', default: 'World' },
    codec: { type: 'string', default: 'msgpack' },
    help: { type: 'boolean', short: 'h' },
  },
  USAGE,
);
const codecs: Record<string, Codec> = { json: jsonCodec, msgpack: msgpackCodec, protobuf: greeterProtobuf() };
const codec = codecs[values.codec];
if (codec === undefined || (values.address === undefined) === (values.registry === undefined)) {
  console.error(`give --address or --registry, and a known --codec\n\n${USAGE}`);
  process.exit(2);
}

const registry = values.registry === undefined ? undefined : openRegistry(values.registry).registry;
const client = createClient({
  ...(values.address === undefined ? {} : { address: values.address }),
  ...(registry === undefined ? {} : { registry }),
  codec,
  timeoutMs: 5_000,
});
let exitCode = 0;
try {
  // Typed from the server's class: `import type { Greeter }`, nothing generated.
  const greeter = client.service<Greeter>('Greeter');
  const hello = await greeter.hello({ name: values.name });
  console.log(`hello -> "${hello.text}" (from instance ${hello.from}, codec ${codec.name})`);
  const formal = await greeter.greetFormally({ name: values.name, title: 'Dr.' });
  console.log(`greetFormally -> "${formal.text}"`);
  const refused = await greeter.greetFormally({ name: values.name, title: '' }).catch((e: unknown) => e);
  console.log(`greetFormally without a title -> ${describeError(refused)}`);
  const late = await greeter
    .slowHello({ name: values.name, ms: 2_000 }, { timeoutMs: 100 })
    .catch((e: unknown) => e);
  console.log(`slowHello 2000 ms with a 100 ms timeout -> ${describeError(late)}`);
  if (!(refused instanceof RpcError) || !(late instanceof RpcError)) exitCode = 1;
} catch (err) {
  console.error(`call failed: ${describeError(err)}`);
  exitCode = 1;
} finally {
  await client.close();
  await registry?.close();
}
process.exit(exitCode);
