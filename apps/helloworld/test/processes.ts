import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built app, as a user runs it (`pnpm run build` first; the root `pnpm test` builds). */
export const DIST = fileURLToPath(new URL('../dist/', import.meta.url));

const running = new Set<ChildProcess>();

/** Kills every process these helpers started that is still running (for `afterEach`). */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
  running.clear();
}

/** Environment for the app without a registry override, so the tests never need etcd. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.MINI_RPC_REGISTRY;
  return env;
}

/** How a finished run went. */
export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs `node dist/<script> ...args` to the end; SIGKILLs it after `timeoutMs`. */
export function run(script: string, args: readonly string[], timeoutMs: number): Promise<RunResult> {
  const t0 = performance.now();
  const child = start(script, args);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: string) => {
    stdout += c;
  });
  child.stderr?.on('data', (c: string) => {
    stderr += c;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

/** A process started by {@link startUntil}, with what it printed so far. */
export interface Started {
  readonly child: ChildProcess;
  readonly match: RegExpExecArray;
  output(): string;
  /** Resolves with the exit code once the process has exited (at most `timeoutMs`, then SIGKILL). */
  exited(timeoutMs: number): Promise<number | null>;
}

/** Starts `node dist/<script> ...args` and resolves once its stdout matches `ready` (at most `timeoutMs`). */
export function startUntil(
  script: string,
  args: readonly string[],
  ready: RegExp,
  timeoutMs: number,
): Promise<Started> {
  const child = start(script, args);
  let out = '';
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const exited = async (ms: number): Promise<number | null> => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    const code = await closed;
    clearTimeout(timer);
    return code;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${script} did not print ${ready} within ${timeoutMs} ms; it printed: ${out}`));
    }, timeoutMs);
    child.stderr?.on('data', (c: string) => {
      out += c;
    });
    child.stdout?.on('data', (c: string) => {
      out += c;
      const match = ready.exec(out);
      if (match === null) return;
      clearTimeout(timer);
      resolve({ child, match, output: () => out, exited });
    });
    void closed.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before printing ${ready}: ${out}`));
    });
  });
}

function start(script: string, args: readonly string[]): ChildProcess {
  const child = spawn(process.execPath, [`${DIST}${script}`, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cleanEnv(),
  });
  child.stdout?.setEncoding('utf8');
  child.stderr?.setEncoding('utf8');
  running.add(child);
  return child;
}
