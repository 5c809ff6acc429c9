import type { ChildProcess } from 'node:child_process';
import type { CaseSpec, ClientReport, ClientSpec, RunResult } from './case-spec.js';
import type { ChildMessage } from './child.js';
import { forkChild, stopChild, waitFor } from './child.js';
import type { CpuTicks } from './machine-load.js';
import { otherBusyCores, readCpuTicks } from './machine-load.js';

/** Where the child entries are and how to start them. */
export interface RunOptions {
  /** The directory of the built entries (`load-server-main.js`, `load-client-main.js`). */
  readonly distDir: string;
  /** Extra Node flags for the children (e.g. `--cpu-prof`). */
  readonly execArgv: readonly string[];
}

interface Snapshot {
  readonly cpuUs: number;
  readonly calls: number;
}

let nextSnapshotId = 1;

/** CPU and call count of a server process, or `undefined` if it does not answer (killed) within 2 s. */
async function snapshot(server: ChildProcess): Promise<Snapshot | undefined> {
  if (!server.connected) return undefined;
  const id = nextSnapshotId++;
  return new Promise((resolve) => {
    const onMessage = (m: ChildMessage): void => {
      if (m.type !== 'snapshot' || m.id !== id) return;
      finish({ cpuUs: m.cpuUs as number, calls: m.calls as number });
    };
    const finish = (s: Snapshot | undefined): void => {
      clearTimeout(timer);
      server.off('message', onMessage);
      server.off('exit', onExit);
      resolve(s);
    };
    const onExit = (): void => finish(undefined);
    const timer = setTimeout(() => finish(undefined), 2_000);
    server.on('message', onMessage);
    server.once('exit', onExit);
    server.send({ type: 'snapshot', id }, (err) => {
      if (err !== null) finish(undefined);
    });
  });
}

/** Drives the client through one run and relays its window and kill requests; resolves with its report. */
function drive(
  client: ChildProcess,
  servers: readonly ChildProcess[],
  spec: ClientSpec,
  onWindow: (edge: 'warming' | 'start' | 'end') => void,
): Promise<ClientReport> {
  const budgetMs = Math.max(spec.warmupMs, spec.maxWarmupMs) + spec.windowMs + 20_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`client gave no result within ${budgetMs} ms`)),
      budgetMs,
    );
    client.on('message', (m: ChildMessage) => {
      if (m.type === 'warming') onWindow('warming');
      else if (m.type === 'window-start') onWindow('start');
      else if (m.type === 'window-end') onWindow('end');
      else if (m.type === 'kill') servers[m.index as number]?.kill('SIGKILL');
      else if (m.type === 'result') {
        clearTimeout(timer);
        resolve(m.report as ClientReport);
      } else if (m.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`client: ${String(m.message)}`));
      }
    });
    client.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`client exited (${signal ?? code}) without a result`));
    });
    client.send({ type: 'run', spec });
  });
}

/**
 * Runs one case once: starts its server process(es) and a client process (in parallel), hands the client
 * the ports, snapshots the servers' CPU and call counters when the client opens and closes its window,
 * and always stops every process it started, also when something fails.
 */
export async function runCase(
  spec: CaseSpec,
  client: Omit<ClientSpec, 'ports'>,
  round: number,
  options: RunOptions,
): Promise<RunResult> {
  const servers = spec.servers.map((s) =>
    forkChild(
      `${options.distDir}/load-server-main.js`,
      [JSON.stringify(s)],
      options.execArgv,
      spec.cpus?.servers,
    ),
  );
  const clientProc = forkChild(
    `${options.distDir}/load-client-main.js`,
    [],
    options.execArgv,
    spec.cpus?.client,
  );
  try {
    const ready = waitFor(clientProc, 'ready', 15_000, 'client');
    const listening = await Promise.all(
      servers.map((s, i) => waitFor(s, 'listening', 15_000, `server ${i}`)),
    );
    const ports = listening.map((m) => m.port as number);
    await ready;
    let start: Promise<(Snapshot | undefined)[]> = Promise.resolve([]);
    let end: Promise<(Snapshot | undefined)[]> = Promise.resolve([]);
    let ticks0: CpuTicks | undefined;
    let ticks1: CpuTicks | undefined;
    // At most one warm-up snapshot at a time: a server busy under load answers late, and each waiting
    // snapshot holds a listener on it.
    let warming = false;
    const report = await drive(clientProc, servers, { ...client, ports }, (edge) => {
      if (edge === 'warming') {
        // Dropped: they only exercise the servers' IPC code (see load-client-main).
        if (warming) return;
        warming = true;
        void Promise.all(servers.map(snapshot)).then(() => {
          warming = false;
        });
        return;
      }
      const taken = Promise.all(servers.map(snapshot));
      if (edge === 'start') {
        start = taken;
        ticks0 = readCpuTicks();
      } else {
        end = taken;
        ticks1 = readCpuTicks();
      }
    });
    const [s0, s1] = await Promise.all([start, end]);
    let cpuUs = 0;
    let served = 0;
    const perInstance = servers.map((_, i) => {
      const a = s0[i];
      const b = s1[i];
      if (a === undefined || b === undefined) return -1;
      cpuUs += b.cpuUs - a.cpuUs;
      served += b.calls - a.calls;
      return b.calls - a.calls;
    });
    const others = otherBusyCores(
      ticks0,
      ticks1,
      cpuUs + report.clientCpuUsPerCall * report.calls,
      report.windowMs,
    );
    return {
      ...report,
      round,
      serverCpuUsPerCall: served > 0 ? cpuUs / served : 0,
      perInstance,
      serverCores: listening.map((m) => m.cores as number),
      ...(others === undefined ? {} : { otherBusyCores: others }),
    };
  } finally {
    await Promise.all([clientProc, ...servers].map((c) => stopChild(c)));
  }
}
