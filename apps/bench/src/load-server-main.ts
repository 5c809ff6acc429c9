// A server process of the load bench: starts one echo server of the stack named in argv[2] (a ServerSpec
// as JSON), reports its port over IPC, answers CPU/call snapshots, and exits when told or orphaned.
import { availableParallelism } from 'node:os';
import type { ServerSpec } from './load/case-spec.js';
import type { BenchServer, CallCounter } from './load/servers/bench-server.js';

/** Messages from the parent. */
type ParentMessage = { type: 'snapshot'; id: number } | { type: 'stop' };

const counter: CallCounter = { calls: 0 };

async function start(spec: ServerSpec): Promise<BenchServer> {
  switch (spec.stack) {
    case 'bare':
      return (await import('./load/servers/bare-server.js')).startBareServer(counter, spec.batchFrames);
    case 'mini-rpc':
      return (await import('./load/servers/mini-rpc-server.js')).startMiniRpcServer(spec, counter);
    case 'grpc':
      return (await import('./load/servers/grpc-server.js')).startGrpcServer(counter);
    case 'http':
      return (await import('./load/servers/http-server.js')).startHttpServer(counter);
    case 'moleculer':
      return (await import('./load/servers/moleculer-server.js')).startMoleculerServer(counter);
  }
}

function send(message: object): void {
  process.send?.(message);
}

async function main(): Promise<void> {
  if (process.send === undefined) throw new Error('load-server-main runs as a child with an IPC channel');
  // Orphaned (parent died): leave at once, never linger holding a port.
  process.on('disconnect', () => process.exit(0));
  const spec = JSON.parse(process.argv[2] ?? '{}') as ServerSpec;
  const server = await start(spec);
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'snapshot') {
      const cpu = process.cpuUsage();
      send({ type: 'snapshot', id: message.id, cpuUs: cpu.user + cpu.system, calls: counter.calls });
    } else if (message.type === 'stop') {
      const hard = setTimeout(() => process.exit(0), 500);
      hard.unref();
      void server.close().finally(() => process.exit(0));
    }
  });
  send({ type: 'listening', port: server.port, cores: availableParallelism() });
}

main().catch((err: unknown) => {
  const text = err instanceof Error ? (err.stack ?? err.message) : String(err);
  process.send?.({ type: 'error', message: text }, undefined, {}, () => process.exit(1));
});
