import type { Registry } from '@mini-rpc/protocol';
import type { Server } from '@mini-rpc/server';
import { createServer, silentLogger } from '@mini-rpc/server';

/** One in-process instance of the 'Echo' service; counts the calls it served. */
export interface Instance {
  readonly server: Server;
  readonly id: string;
  readonly port: number;
  calls: number;
}

/** Starts `n` instances of 'Echo' registered in `registry`; `delays[i]` slows instance i (ms per call). */
export async function startInstances(
  registry: Registry,
  n: number,
  options: { weights?: number[]; delays?: number[] } = {},
): Promise<Instance[]> {
  const instances: Instance[] = [];
  for (let i = 0; i < n; i++) {
    const server = createServer({ logger: silentLogger, registry, weight: options.weights?.[i] ?? 1 });
    const delay = options.delays?.[i] ?? 0;
    const inst = { server, id: '', port: 0, calls: 0 };
    server.addService(
      {
        echo(args: unknown) {
          inst.calls++;
          if (delay === 0) return args;
          return new Promise((resolve) => setTimeout(() => resolve(args), delay));
        },
        whoami() {
          inst.calls++;
          return inst.id;
        },
      },
      { name: 'Echo', methods: { echo: { idempotent: true }, whoami: { idempotent: true } } },
    );
    inst.port = (await server.listen()).port;
    inst.id = server.instances[0]?.id ?? '';
    instances.push(inst);
  }
  return instances;
}

/** Runs `total` calls with `concurrency` workers; resolves with the number that failed. */
export async function load(
  call: (i: number) => Promise<unknown>,
  total: number,
  concurrency: number,
): Promise<number> {
  let next = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      const i = next++;
      await call(i).catch(() => {
        failed++;
      });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failed;
}

/** Shares of calls per instance, e.g. `[0.33, 0.33, 0.34]`. */
export function shares(instances: readonly Instance[]): number[] {
  const total = instances.reduce((s, i) => s + i.calls, 0);
  return instances.map((i) => i.calls / total);
}
