// The Greeter on its own, for two terminals:
//   pnpm --filter @mini-rpc/helloworld run server --port 4000
//   pnpm --filter @mini-rpc/helloworld run client --address 127.0.0.1:4000
// (`run` is needed: `pnpm server` is a pnpm command of its own.)
// Prints `Greeter listening on <host>:<port>`; Ctrl-C (SIGINT) or SIGTERM shuts down gracefully.
import { jsonCodec, msgpackCodec } from '@mini-rpc/codec';
import type { Registry } from '@mini-rpc/protocol';
import { createServer } from '@mini-rpc/server';
import { argsOrUsage } from './args-or-usage.js';
import { Greeter } from './greeter.js';
import { openRegistry } from './open-registry.js';
import { greeterProtobuf } from './protobuf.js';

const USAGE = `usage: node dist/server.js [--port <n>] [--host <ip>] [--name <instance>] [--registry etcd://host:port]

  --port       port to listen on; default 0 (any free port, printed)
  --host       interface; default 127.0.0.1
  --name       instance name answered in replies; default greeter
  --registry   also register in etcd (the client then finds it with --registry); default none`;

const values = argsOrUsage(
  {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    name: { type: 'string', default: 'greeter' },
    registry: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
  USAGE,
);
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error(`--port must be 0…65535, not '${values.port}'\n${USAGE}`);
  process.exit(2);
}

const registry: Registry | undefined =
  values.registry === undefined ? undefined : openRegistry(values.registry).registry;
const server = createServer({
  codecs: [jsonCodec, msgpackCodec, greeterProtobuf()],
  ...(registry === undefined ? {} : { registry }),
});
server.addService(new Greeter(values.name));

let stopping = false;
const stop = async (signal: string): Promise<void> => {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: shutting down gracefully (deregister, GoAway, finish calls in flight)`);
  await server.close({ graceMs: 5_000 });
  await registry?.close();
  console.log('stopped');
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

const address = await server.listen({ host: values.host, port });
// Printed only once the signal handlers are in place: whoever reads this line may send SIGTERM at once.
console.log(`Greeter listening on ${address.host}:${address.port} (instance ${values.name})`);
