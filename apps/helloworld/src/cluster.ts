import type { Codec } from '@mini-rpc/codec';
import type { Registry, ServerMiddleware } from '@mini-rpc/protocol';
import type { Server } from '@mini-rpc/server';
import { createServer, silentLogger } from '@mini-rpc/server';
import { Greeter } from './greeter.js';

/** One running Greeter instance in this process. */
export interface GreeterInstance {
  /** Its short name: `a`, `b`, … (what `hello` answers in `from`). */
  readonly name: string;
  readonly greeter: Greeter;
  readonly server: Server;
  readonly port: number;
  /** Its id in the registry, e.g. `Greeter@127.0.0.1:41234`. */
  readonly id: string;
}

/** Options of {@link startGreeters}. */
export interface ClusterOptions {
  /** Weight each instance announces, by position. Default 1. */
  weights?: readonly number[];
  /** Middleware an instance runs (outermost first), by its name. */
  middleware?: (name: string) => ServerMiddleware[];
  codecs?: readonly Codec[];
}

/** Starts one Greeter server per name on 127.0.0.1, each registered in `registry` under 'Greeter'. */
export async function startGreeters(
  registry: Registry,
  names: readonly string[],
  options: ClusterOptions = {},
): Promise<GreeterInstance[]> {
  const started: GreeterInstance[] = [];
  try {
    for (const [i, name] of names.entries()) {
      const server = createServer({
        registry,
        weight: options.weights?.[i] ?? 1,
        logger: silentLogger,
        ...(options.middleware === undefined ? {} : { middleware: options.middleware(name) }),
        ...(options.codecs === undefined ? {} : { codecs: options.codecs }),
      });
      const greeter = new Greeter(name);
      server.addService(greeter);
      const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
      started.push({
        name,
        greeter,
        server,
        port,
        id: server.instances[0]?.id ?? `Greeter@127.0.0.1:${port}`,
      });
    }
  } catch (err) {
    await stopGreeters(started);
    throw err;
  }
  return started;
}

/** Closes every instance (each deregisters first), giving in-flight calls `graceMs`. */
export async function stopGreeters(instances: readonly GreeterInstance[], graceMs = 1_000): Promise<void> {
  await Promise.all(instances.map((i) => i.server.close({ graceMs })));
}

/** Sets every instance's `served` counter back to 0. */
export function resetServed(instances: readonly GreeterInstance[]): void {
  for (const i of instances) i.greeter.served = 0;
}
