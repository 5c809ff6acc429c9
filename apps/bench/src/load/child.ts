import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';

/** Every child process still alive; killed on exit, on signals and on failure. */
const live = new Set<ChildProcess>();
let cleanupInstalled = false;

/** Kills every child this process started (SIGKILL), e.g. on the way out. */
export function killAllChildren(): void {
  for (const child of live) child.kill('SIGKILL');
  live.clear();
}

/** Makes sure children die with us: on normal exit, Ctrl-C, SIGTERM and uncaught errors. */
export function installChildCleanup(): void {
  if (cleanupInstalled) return;
  cleanupInstalled = true;
  process.on('exit', killAllChildren);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAllChildren();
      process.exit(130);
    });
  }
}

/** util-linux's `taskset`, when the machine has it (Linux): pins a process to CPUs from its start. */
export const TASKSET: string | undefined = ['/usr/bin/taskset', '/bin/taskset'].find((p) => existsSync(p));

/** The CPUs a `taskset -c` list names: `0` → [0], `0-2` → [0, 1, 2], `0,3` → [0, 3]. */
export function cpuList(list: string): number[] {
  return list.split(',').flatMap((part) => {
    const [from, to = from] = part.split('-').map(Number) as [number, number?];
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
}

/** Why processes cannot be pinned to `lists` here, or `undefined` when they can. */
export function cannotPin(lists: readonly string[], cpusHere: number): string | undefined {
  if (TASKSET === undefined) return 'pinning processes to CPUs needs taskset (Linux)';
  const highest = Math.max(...lists.flatMap(cpuList));
  return highest < cpusHere
    ? undefined
    : `pinned to CPU ${highest}, but this process may use only ${cpusHere} CPU(s)`;
}

/**
 * The Node flags of a child pinned to `cpus` (undefined: not pinned), before the run's own `execArgv`.
 *
 * A child pinned to one CPU runs V8 with `--single-threaded-gc`: by default V8 hands parts of each
 * scavenge (and of marking and sweeping) to Node's 4 platform threads, which on one CPU can only run by
 * preempting the main thread, which then waits for them. Measured here (open loop at 255,000 calls/s,
 * 5 alternated rounds each): the generator's send lag p99 went from 226 to 68 µs (mini-rpc) and from 274
 * to 103 µs (bare echo); the calls' p99 from 879 to 511 µs and from 706 to 297 µs (medians, noisy). An
 * allocation loop on one CPU took 210 CPU ticks with it against 253 without (143 main thread + 110 helpers).
 * Every stack's pinned processes get it alike; unpinned children keep V8's defaults. A later
 * `--node-flag=--no-single-threaded-gc` turns it off again (V8 takes the last of two opposite flags).
 */
export function pinnedExecArgv(cpus: string | undefined, execArgv: readonly string[]): string[] {
  if (cpus === undefined || cpuList(cpus).length !== 1) return [...execArgv];
  return ['--single-threaded-gc', ...execArgv];
}

/**
 * Forks a Node entry with an IPC channel; its stdout/stderr go to ours. With `cpus` (a `taskset -c` list)
 * the process and every thread it starts run only there: taskset sets the affinity and then execs Node,
 * so the child's pid, signals and IPC channel are Node's own. Flags: {@link pinnedExecArgv}.
 */
export function forkChild(
  entry: string,
  args: readonly string[],
  execArgv: readonly string[],
  cpus?: string,
): ChildProcess {
  installChildCleanup();
  if (cpus !== undefined && TASKSET === undefined) throw new Error(`pinning to CPUs ${cpus} needs taskset`);
  const child = fork(entry, [...args], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    ...(cpus === undefined || TASKSET === undefined
      ? { execArgv: [...execArgv] }
      : { execPath: TASKSET, execArgv: ['-c', cpus, process.execPath, ...pinnedExecArgv(cpus, execArgv)] }),
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  // A child that died must not take the parent down with an EPIPE on send.
  child.on('error', () => {});
  return child;
}

/** A message the children send, discriminated by `type`. */
export interface ChildMessage {
  readonly type: string;
  readonly [key: string]: unknown;
}

/**
 * Resolves with the first message of `type` from `child`; rejects on an `error` message, on exit, or after
 * `timeoutMs`.
 */
export function waitFor(
  child: ChildProcess,
  type: string,
  timeoutMs: number,
  what: string,
): Promise<ChildMessage> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    const onMessage = (m: ChildMessage): void => {
      if (m.type === type) {
        done();
        resolve(m);
      } else if (m.type === 'error') {
        done();
        reject(new Error(`${what}: ${String(m.message)}`));
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      done();
      reject(new Error(`${what} exited (${signal ?? code}) before '${type}'`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`${what}: no '${type}' within ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** Asks a child to stop, and kills it if it has not exited within `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 1_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (child.connected) child.send({ type: 'stop' }, () => {});
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
