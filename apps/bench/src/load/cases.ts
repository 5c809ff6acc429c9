import type { CaseSpec, ClientSpec, CodecName, PayloadKind, ServerSpec, StackName } from './case-spec.js';
import { BENCH_TOKEN } from './payload.js';

/** How long and how often: full mode for the report, quick mode for smoke runs. */
export interface SuiteSettings {
  readonly rounds: number;
  /** Warm-up: at least `warmupMs` and at least `warmupCalls` finished calls, but never over `maxWarmupMs`. */
  readonly warmupMs: number;
  readonly warmupCalls: number;
  readonly maxWarmupMs: number;
  readonly windowMs: number;
  /**
   * The open loop's warm-up lasts at least this long (and at most this long if `maxWarmupMs` is shorter):
   * its client and server each have one core, which the spinning generator keeps busy, so V8's background
   * compiler gets a turn only when the scheduler preempts the main thread.
   */
  readonly openWarmupMs: number;
  /** Failover runs: a longer window, the kill this far into it, and the event period after the kill. */
  readonly failover: { readonly windowMs: number; readonly killAfterMs: number; readonly eventMs: number };
}

/**
 * Full mode: 3 interleaved rounds; warm-up ≥ 0.4 s and ≥ 20,000 calls (≤ 3 s); 1 s window (about 17 minutes
 * on 2 cores). The call count matters at 1 call in flight: 0.4 s is only ~4,000 calls there, and mini-rpc's
 * codec and dispatch code (msgpackr's encoder above all) was still being optimised by V8 during the window —
 * CPU per call fell from ~130 µs to ~55 µs over the first second of a standalone C=1 client.
 *
 * The open loop warms up for 10 s. After 0.4 s, `--trace-opt` still showed V8 finishing ~20 optimised
 * compiles of stream and mini-rpc code inside the window (the compiler's thread shares the pinned core with
 * the spinning generator). At 4,000 calls/s mini-rpc's p99 was 0.40–6.4 ms over 3 rounds after the short
 * warm-up and 0.36–0.46 ms after 8 s; at 183,000 calls/s, alternated pairs of runs: 1.74–1.98 ms after 0.4 s,
 * 1.15–1.84 ms after 5 s. Then 10 s: with 5 s, `--trace-opt` still showed V8 optimising functions that run a
 * few hundred times a second (the msgpack encoder's `newSlab`, `Buffer.allocUnsafeSlow`) and Node's timer
 * code in the window, in both processes, and `perf sched` put each compile on the pinned core beside the main
 * thread for 1.2–3.7 ms, a stall of the calls behind it; after 10 s one compile of ~1 ms was left in it.
 * At 350,000 calls/s with 15 s, no compile thread ran in the window in 4 rounds.
 */
export const FULL: SuiteSettings = {
  rounds: 3,
  warmupMs: 400,
  warmupCalls: 20_000,
  maxWarmupMs: 3_000,
  windowMs: 1_000,
  openWarmupMs: 10_000,
  failover: { windowMs: 3_000, killAfterMs: 1_000, eventMs: 1_000 },
};

/** Quick mode: one round, short windows: numbers for smoke runs, not for the report. */
export const QUICK: SuiteSettings = {
  rounds: 1,
  warmupMs: 200,
  warmupCalls: 2_000,
  maxWarmupMs: 1_000,
  windowMs: 500,
  openWarmupMs: 200,
  failover: { windowMs: 1_500, killAfterMs: 500, eventMs: 500 },
};

/** The in-flight counts of the closed-loop comparison. */
export const CONCURRENCY = [1, 16, 64, 256] as const;
/** The payload sizes of the comparison, bytes. */
export const SIZES = [64, 1024] as const;
/** Most calls an open loop lets wait; mini-rpc's server refuses more than 1,024 per connection. */
const MAX_OUTSTANDING = 1_000;
/** HTTP/1.1 pool size cap: one connection per call in flight up to this. */
const HTTP_MAX_CONNECTIONS = 64;

/** `64B`, `1KiB`, `order 1KiB`. */
export const sizeLabel = (payload: PayloadKind, size: number): string =>
  payload === 'order' ? 'order~1KiB' : size >= 1024 ? `${size / 1024}KiB` : `${size}B`;

/** `mini-rpc msgpack`, `bare`, `bare uncapped batch`, … */
export const stackLabel = (stack: StackName, codec: CodecName, variant?: string): string =>
  `${codec === 'raw' ? stack : `${stack} ${codec}`}${variant === undefined ? '' : ` ${variant}`}`;

const DEFAULT_CODEC: Record<StackName, CodecName> = {
  bare: 'raw',
  'mini-rpc': 'msgpack',
  grpc: 'raw',
  http: 'raw',
  // Moleculer's default serializer; the bytes travel as a latin1 string, as in mini-rpc's JSON cases.
  moleculer: 'json',
};
const STACKS: readonly StackName[] = ['bare', 'mini-rpc', 'grpc', 'http', 'moleculer'];

function client(
  settings: SuiteSettings,
  stack: StackName,
  codec: CodecName,
  payload: PayloadKind,
  size: number,
  concurrency: number,
  extra: Partial<Omit<ClientSpec, 'ports'>> = {},
): Omit<ClientSpec, 'ports'> {
  return {
    stack,
    codec,
    payload,
    size,
    mode: { kind: 'closed', concurrency },
    warmupMs: settings.warmupMs,
    warmupCalls: settings.warmupCalls,
    maxWarmupMs: settings.maxWarmupMs,
    windowMs: settings.windowMs,
    ...(stack === 'http' ? { connections: Math.min(concurrency, HTTP_MAX_CONNECTIONS) } : {}),
    ...extra,
  };
}

function compareCases(s: SuiteSettings): CaseSpec[] {
  const cases: CaseSpec[] = [];
  const add = (stack: StackName, codec: CodecName, payload: PayloadKind, size: number, c: number): void => {
    const slot = `${sizeLabel(payload, size)} C=${c}`;
    cases.push({
      id: `${stackLabel(stack, codec)} ${slot}`,
      group: 'compare',
      slot,
      servers: [{ stack }],
      client: client(s, stack, codec, payload, size, c),
    });
  };
  for (const size of SIZES) {
    for (const c of CONCURRENCY) {
      for (const stack of STACKS) add(stack, DEFAULT_CODEC[stack], 'bytes', size, c);
      if (c === 1 || c === 64) {
        add('mini-rpc', 'json', 'bytes', size, c);
        add('mini-rpc', 'protobuf', 'bytes', size, c);
      }
    }
  }
  // The ceiling without mini-rpc's batch cap: one write per event-loop turn, however many frames.
  for (const c of [64, 256]) {
    const slot = `64B C=${c}`;
    cases.push({
      id: `${stackLabel('bare', 'raw', 'uncapped batch')} ${slot}`,
      group: 'compare',
      slot,
      servers: [{ stack: 'bare', batchFrames: 0 }],
      client: client(s, 'bare', 'raw', 'bytes', 64, c, { batchFrames: 0, variant: 'uncapped batch' }),
    });
  }
  // The micro bench's structured ~1 KiB message: calls/s here set against the codec's own cost.
  for (const codec of ['msgpack', 'json', 'protobuf'] as const) add('mini-rpc', codec, 'order', 1024, 64);
  return cases;
}

/**
 * One open-loop case of a stack at 64 B; `rate` 0 means "set by `rateFrom` from the round's results".
 *
 * The client runs on CPU 0 and the server on CPU 1. The generator spins between close sends, and left to
 * the scheduler the server was often woken on the generator's core, where it waited out the generator's
 * time slice: 4–5 ms with no answer at all, a few dozen times a second, at every rate (the client showed
 * ~3,900 involuntary context switches a second), while the other core idled.
 */
function openCase(s: SuiteSettings, stack: StackName, label: string, slot: string, rate: number): CaseSpec {
  const codec = DEFAULT_CODEC[stack];
  return {
    id: `${stackLabel(stack, codec)} 64B open @${label}`,
    group: 'open',
    slot,
    cpus: { client: '0', servers: '1' },
    servers: [{ stack }],
    client: {
      ...client(s, stack, codec, 'bytes', 64, 1),
      mode: { kind: 'open', rate, maxOutstanding: MAX_OUTSTANDING },
      warmupMs: s.openWarmupMs,
      maxWarmupMs: Math.max(s.maxWarmupMs, s.openWarmupMs),
      ...(stack === 'http' ? { connections: HTTP_MAX_CONNECTIONS } : {}),
    },
  };
}

/**
 * Open loop at half of each stack's own best closed-loop rate and at half of the slowest stack's, and the
 * bare echo at mini-rpc's rate; or, with `--open-rate`, one case per stack at that fixed rate, derived from
 * nothing.
 */
function openCases(s: SuiteSettings, openRate: number | undefined): CaseSpec[] {
  if (openRate !== undefined)
    return STACKS.map((stack) => openCase(s, stack, `${openRate}/s`, 'open fixed', openRate));
  const cases: CaseSpec[] = [];
  for (const rule of ['half-own-max', 'half-slowest-max'] as const) {
    const label = rule === 'half-own-max' ? '½ own max' : '½ slowest max';
    for (const stack of STACKS) {
      cases.push({ ...openCase(s, stack, label, `open ${rule}`, 0), rateFrom: { rule, fraction: 0.5 } });
    }
  }
  // The floor of mini-rpc's open-loop target: the bare echo offered mini-rpc's own rate, in the same round.
  // Its tail is what the machine (syscalls, wake-ups, scavenges of a Node process) costs at that rate.
  const rule = 'half-mini-rpc-max';
  cases.push({
    ...openCase(s, 'bare', '½ mini-rpc max', `open ${rule}`, 0),
    rateFrom: { rule, fraction: 0.5 },
  });
  return cases;
}

/**
 * 64 B at 1 in flight again, with client and server pinned to one core (CPU 0). At 1 in flight each call
 * wakes the other process twice; on this VM a wake-up that crosses vCPUs costs tens of µs (the idle vCPU has
 * halted and the host must run it again), which the unpinned cases pay and these do not; in exchange, here
 * client and server take turns on the one core. Set side by side, the two show that cost of the machine.
 */
function oneCoreCases(s: SuiteSettings): CaseSpec[] {
  const slot = '64B C=1 one core';
  return STACKS.map((stack) => ({
    id: `${stackLabel(stack, DEFAULT_CODEC[stack])} ${slot}`,
    group: 'one-core' as const,
    slot,
    servers: [{ stack }],
    client: client(s, stack, DEFAULT_CODEC[stack], 'bytes', 64, 1),
    cpus: { client: '0', servers: '0' },
  }));
}

function scenarioCases(s: SuiteSettings): CaseSpec[] {
  const cases: CaseSpec[] = [];
  const c = 256;
  for (const n of [1, 2, 4]) {
    cases.push({
      id: `pool mini-rpc msgpack 64B maxActive=${n} C=${c}`,
      group: 'pool',
      slot: 'pool',
      servers: [{ stack: 'mini-rpc' }],
      client: client(s, 'mini-rpc', 'msgpack', 'bytes', 64, c, {
        pool: { maxActive: n, callsPerConnection: Math.ceil(c / n) },
      }),
    });
  }
  const metadata = { authorization: `Bearer ${BENCH_TOKEN}` };
  const chains: { label: string; middleware: number | 'default-chain' }[] = [
    { label: 'none', middleware: 0 },
    { label: '1 pass-through', middleware: 1 },
    { label: '5 pass-through', middleware: 5 },
    { label: '10 pass-through', middleware: 10 },
    { label: 'default chain', middleware: 'default-chain' },
  ];
  for (const { label, middleware } of chains) {
    cases.push({
      id: `middleware ${label} mini-rpc msgpack 64B C=64`,
      group: 'middleware',
      slot: 'middleware',
      servers: [{ stack: 'mini-rpc', middleware }],
      client: client(s, 'mini-rpc', 'msgpack', 'bytes', 64, 64, { metadata }),
      ...(middleware === 'default-chain' ? { needs: ['middleware'] as const } : {}),
    });
  }
  const three: ServerSpec[] = [{ stack: 'mini-rpc' }, { stack: 'mini-rpc' }, { stack: 'mini-rpc' }];
  for (const balancer of ['round-robin', 'p2c', 'least-connections']) {
    cases.push({
      id: `balancer ${balancer} 3 instances mini-rpc msgpack 64B C=64`,
      group: 'balancer',
      slot: 'balancer',
      servers: three,
      client: client(s, 'mini-rpc', 'msgpack', 'bytes', 64, 64, { balancer }),
      needs: ['balancer', 'registry'],
    });
  }
  const failovers: { balancer: string; retry: boolean }[] = [
    { balancer: 'round-robin', retry: false },
    { balancer: 'round-robin', retry: true },
    { balancer: 'p2c', retry: false },
  ];
  for (const { balancer, retry } of failovers) {
    cases.push({
      id: `failover ${balancer} kill 1 of 3 ${retry ? 'with retry' : 'no retry'} C=64`,
      group: 'failover',
      slot: 'failover',
      servers: three,
      client: client(s, 'mini-rpc', 'msgpack', 'bytes', 64, 64, {
        balancer,
        retry,
        windowMs: s.failover.windowMs,
        killAt: { index: 2, afterMs: s.failover.killAfterMs },
        eventMs: s.failover.eventMs,
      }),
      needs: retry ? ['balancer', 'registry', 'resilience'] : ['balancer', 'registry'],
    });
  }
  return cases;
}

/**
 * Every case, in run order within a round: comparison, open loop (needs its rates), the one-core runs, then
 * the scenarios.
 */
export function buildCases(settings: SuiteSettings, openRate?: number): CaseSpec[] {
  return [
    ...compareCases(settings),
    ...openCases(settings, openRate),
    ...oneCoreCases(settings),
    ...scenarioCases(settings),
  ];
}
