// Shared test infrastructure: a throwaway etcd on loopback (../../../shared/ETCD.md), used by the registry
// package tests and the end-to-end tests in apps/integration.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A throwaway single-member etcd on loopback (ETCD.md), owned by one test file. */
export interface EtcdServer {
  readonly clientPort: number;
  /** `http://127.0.0.1:<clientPort>` */
  readonly endpoint: string;
  /** True while its process has not exited. */
  readonly running: boolean;
  /** Stops the process with `signal` (default SIGKILL) and waits until it has exited; keeps the data. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same ports and data dir and waits until it is healthy. */
  restart(): Promise<void>;
  /** Stops it (SIGTERM) and removes its data dir. Safe to call twice. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;
/** SIGTERM grace before SIGKILL: a lone member exits in ms, a cluster member may wait on its peers. */
const EXIT_TIMEOUT_MS = 2_000;

/** Fails with a clear message when `etcd` is not installed (CI installs it via tooling/setup.sh). */
function assertEtcdInstalled(): void {
  const probe = spawnSync('etcd', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0)
    throw new Error(
      'etcd is not installed or not on PATH: the etcd registry tests need a real etcd. ' +
        'Run tooling/setup.sh, or `apt-get install -y etcd-server etcd-client` (Debian).',
    );
}

/** Free loopback ports: listen on port 0 (all at once, so they differ), read them, close. */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', resolve);
      });
    }
    return servers.map((server) => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      return address.port;
    });
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

async function waitHealthy(child: ChildProcess, endpoint: string, stderr: () => string): Promise<void> {
  const until = Date.now() + START_TIMEOUT_MS;
  for (let attempt = 0; attempt < 1000 && Date.now() < until; attempt++) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`etcd exited during start (code ${child.exitCode}): ${stderr()}`);
    try {
      const response = await fetch(`${endpoint}/health`, { signal: AbortSignal.timeout(250) });
      const body = (await response.json()) as { health?: string };
      if (body.health === 'true') return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`etcd did not become healthy within ${START_TIMEOUT_MS} ms: ${stderr()}`);
}

/** Raft timing flags in ms. */
interface EtcdTiming {
  readonly heartbeatMs: number;
  readonly electionMs: number;
}

interface MemberPlan {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
}

/** Spawns one member and returns its handle; the caller waits for health (a cluster needs all members up). */
function member(
  plan: MemberPlan,
  cluster: readonly MemberPlan[],
  timing: EtcdTiming,
): EtcdServer & { start(): Promise<void> } {
  const dataDir = mkdtempSync(join(tmpdir(), 'mini-rpc-etcd-'));
  const endpoint = `http://127.0.0.1:${plan.clientPort}`;
  const peer = (m: MemberPlan) => `http://127.0.0.1:${m.peerPort}`;
  const args = [
    ['--name', plan.name],
    ['--data-dir', dataDir],
    ['--listen-client-urls', endpoint],
    ['--advertise-client-urls', endpoint],
    ['--listen-peer-urls', peer(plan)],
    ['--initial-advertise-peer-urls', peer(plan)],
    ['--initial-cluster', cluster.map((m) => `${m.name}=${peer(m)}`).join(',')],
    ['--initial-cluster-state', 'new'],
    ['--heartbeat-interval', String(timing.heartbeatMs)],
    ['--election-timeout', String(timing.electionMs)],
    ['--log-level', 'warn'],
  ].flat();

  let child: ChildProcess | undefined;
  let removed = false;
  // A test worker that dies must not leave etcd running or its ~120 MB data dir behind.
  const onExit = (): void => {
    child?.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const start = async (): Promise<void> => {
    let stderr = '';
    const proc = spawn('etcd', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    await waitHealthy(proc, endpoint, () => stderr);
  };

  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const proc = child;
    if (!proc) return;
    proc.kill(signal);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      exited(proc),
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          proc.kill('SIGKILL');
          resolve(exited(proc));
        }, EXIT_TIMEOUT_MS);
      }),
    ]);
    clearTimeout(timer);
  };

  const stop = async (): Promise<void> => {
    if (removed) return;
    removed = true;
    try {
      await kill('SIGTERM');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      process.removeListener('exit', onExit);
    }
  };

  return {
    clientPort: plan.clientPort,
    endpoint,
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    kill,
    restart: start,
    start,
    stop,
  };
}

/** A throwaway etcd cluster on loopback. */
export interface EtcdCluster {
  readonly members: readonly EtcdServer[];
  /** The members' client endpoints, `http://127.0.0.1:<port>`. */
  readonly endpoints: readonly string[];
  /**
   * Waits until every member has a leader and live connections to all its peers. A restarted member is
   * healthy before its peers have reconnected to it; killing another member then leaves two that cannot
   * elect a leader for a while.
   */
  waitConnected(): Promise<void>;
  /**
   * Waits until a running member is the leader and every running member knows it. After the leader is
   * killed, calls fail until the others have elected a new one (tens of ms, more on a loaded machine).
   */
  waitLeader(): Promise<void>;
  /** Stops every member and removes their data dirs. */
  stop(): Promise<void>;
}

async function metrics(endpoint: string): Promise<string> {
  try {
    return await (await fetch(`${endpoint}/metrics`, { signal: AbortSignal.timeout(250) })).text();
  } catch {
    return '';
  }
}

async function connectedToAll(endpoint: string, peers: number): Promise<boolean> {
  const text = await metrics(endpoint);
  const active = text.split('\n').filter((l) => /^etcd_network_active_peers\{.*\} [1-9]/.test(l)).length;
  return active >= peers && /^etcd_server_has_leader 1$/m.test(text);
}

/**
 * Starts a `size`-member etcd cluster on free loopback ports with fresh temp data dirs. Cleans up after
 * itself if the start fails. Timing: a single member uses the fast flags of ETCD.md (heartbeat 10 ms,
 * election 100 ms: cold start 0.1–0.3 s, minimum lease TTL 1 s); a cluster uses 25/250 ms, because members
 * that must elect each other on a loaded 2-core machine split their votes again and again at 10/100.
 */
export async function startEtcdCluster(size: number): Promise<EtcdCluster> {
  const timing = size === 1 ? { heartbeatMs: 10, electionMs: 100 } : { heartbeatMs: 25, electionMs: 250 };
  assertEtcdInstalled();
  const ports = await freePorts(2 * size);
  const plans = Array.from({ length: size }, (_, i) => ({
    name: `m${i}`,
    clientPort: ports[2 * i] as number,
    peerPort: ports[2 * i + 1] as number,
  }));
  const members = plans.map((plan) => member(plan, plans, timing));
  const stop = async (): Promise<void> => {
    // One at a time: members stopped together wait for each other (leader transfer) until SIGKILL.
    for (const m of members) await m.stop();
  };
  try {
    // All at once: a member of a new cluster is healthy only once a quorum has started.
    await Promise.all(members.map((m) => m.start()));
  } catch (error) {
    await stop();
    throw error;
  }
  const poll = async (ready: () => Promise<boolean>, what: string): Promise<void> => {
    const until = Date.now() + START_TIMEOUT_MS;
    for (let attempt = 0; attempt < 1000 && Date.now() < until; attempt++) {
      if (await ready()) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`etcd cluster: ${what} within ${START_TIMEOUT_MS} ms`);
  };
  const waitConnected = () =>
    poll(
      async () =>
        (await Promise.all(members.map((m) => connectedToAll(m.endpoint, size - 1)))).every(Boolean),
      'members did not all connect',
    );
  const waitLeader = () =>
    poll(async () => {
      const texts = await Promise.all(members.filter((m) => m.running).map((m) => metrics(m.endpoint)));
      return (
        texts.some((t) => /^etcd_server_is_leader 1$/m.test(t)) &&
        texts.every((t) => /^etcd_server_has_leader 1$/m.test(t))
      );
    }, 'no leader elected');
  return { members, endpoints: members.map((m) => m.endpoint), waitConnected, waitLeader, stop };
}

/** Starts a single-member etcd, see {@link startEtcdCluster}. */
export async function startEtcd(): Promise<EtcdServer> {
  const cluster = await startEtcdCluster(1);
  return cluster.members[0] as EtcdServer;
}
