import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Bounded polling, shared with the package tests. */
export { waitFor } from '../../../tooling/testing/harness.js';

const CHILD_SERVER = fileURLToPath(new URL('./fixtures/child-server.mjs', import.meta.url));

/** A server process started from fixtures/child-server.mjs. */
export interface ChildServer {
  readonly process: ChildProcess;
  readonly port: number;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts the child server and resolves once it listens (bounded by `timeoutMs`). */
export function startChildServer(
  options: { port?: number; name?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<ChildServer> {
  const child = spawn(process.execPath, [CHILD_SERVER, String(options.port ?? 0), options.name ?? 'child'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...options.env },
  });
  return new Promise<ChildServer>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('child server did not start in time'));
    }, options.timeoutMs ?? 10_000);
    let out = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening (\d+)/.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      resolve({
        process: child,
        port: Number(m[1]),
        kill: (signal = 'SIGKILL') =>
          new Promise<void>((done) => {
            if (child.exitCode !== null || child.signalCode !== null) return done();
            child.once('exit', () => done());
            child.kill(signal);
          }),
      });
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child server exited early with ${code}`));
    });
  });
}

/** Counts of open handles by type, e.g. `{ TCPSocketWrap: 2, Timeout: 1 }`. */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
}
