import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A Greeter running in its own process (`server.js`), so it can be killed for real. */
export interface ChildInstance {
  readonly process: ChildProcess;
  readonly host: string;
  readonly port: number;
  /** Sends `signal` (default SIGKILL) and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const SERVER_JS = fileURLToPath(new URL('./server.js', import.meta.url));

/** Starts `server.js` as instance `name` on a free port; resolves once it listens (at most `timeoutMs`). */
export function startChildInstance(name: string, timeoutMs = 10_000): Promise<ChildInstance> {
  const child = spawn(process.execPath, [SERVER_JS, '--port', '0', '--name', name], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // Never leave it behind, whatever happens to this process.
  const reap = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', reap);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => process.off('exit', reap));
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return new Promise<ChildInstance>((resolve, reject) => {
    const timer = setTimeout(() => {
      void kill();
      reject(new Error(`instance ${name} did not start within ${timeoutMs} ms`));
    }, timeoutMs);
    let out = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      out += chunk;
      const m = /listening on ([\d.]+):(\d+) /.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      child.stdout?.removeAllListeners('data');
      child.stdout?.resume();
      resolve({ process: child, host: m[1] as string, port: Number(m[2]), kill });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`instance ${name} exited before listening (${signal ?? code})`));
    });
  });
}
