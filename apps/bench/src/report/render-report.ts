import type { CaseResult, Spread } from '../load/case-spec.js';
import type { SuiteSettings } from '../load/cases.js';
import { sizeLabel, stackLabel } from '../load/cases.js';
import { cpuList } from '../load/child.js';
import type { Chart } from './charts.js';
import type { MachineInfo } from './machine-info.js';
import type { MicroResults } from './micro-results.js';
import type { TargetRow } from './ratios.js';

/** Everything one report is made of. */
export interface ReportInput {
  readonly machine: MachineInfo;
  readonly mode: 'full' | 'quick';
  readonly settings: SuiteSettings;
  readonly results: readonly CaseResult[];
  readonly targets: readonly TargetRow[];
  readonly charts: readonly Chart[];
  readonly micro: MicroResults | undefined;
  readonly durationS: number;
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US');
const us = (n: number): string => (n >= 100 ? int(n) : n.toFixed(1));
const range = (s: Spread | undefined, f: (n: number) => string): string =>
  s === undefined ? '—' : s.min === s.max ? f(s.median) : `${f(s.median)} (${f(s.min)}–${f(s.max)})`;
const cell = (s: Spread | undefined, f: (n: number) => string): string =>
  s === undefined ? '—' : f(s.median);

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `|${head.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n');
}

function statusOf(r: CaseResult): string | undefined {
  if (r.skipped !== undefined) return `skipped: ${r.skipped}`;
  if (r.runs.length === 0) return r.failed ?? 'no run';
  return undefined;
}

/** Median over runs of the cores other processes kept busy: how noisy the machine was for this row. */
function othersCell(r: CaseResult): string {
  const xs = r.runs
    .flatMap((x) => (x.otherBusyCores === undefined ? [] : [x.otherBusyCores]))
    .sort((a, b) => a - b);
  return xs.length === 0 ? '—' : (xs[xs.length >> 1] as number).toFixed(2);
}

/**
 * Cores the client and the server kept busy (CPU per call × calls/s, median over runs). Near 1.0 in total on
 * two cores means the processes took turns instead of working in parallel.
 */
function busyCell(r: CaseResult): string {
  const c = r.runs.map((x) => (x.clientCpuUsPerCall * x.callsPerSec) / 1e6).sort((a, b) => a - b);
  const s = r.runs.map((x) => (x.serverCpuUsPerCall * x.callsPerSec) / 1e6).sort((a, b) => a - b);
  if (c.length === 0) return '—';
  const mid = c.length >> 1;
  return `${(c[mid] as number).toFixed(2)} + ${(s[mid] as number).toFixed(2)}`;
}

/**
 * The server's CPU per call and the share of its core that kept it busy (CPU per call × calls/s), medians
 * over runs. In the open loop the idle share is what drains the queue a pause leaves behind.
 */
function serverBusyCell(r: CaseResult): string {
  const busy = r.runs.map((x) => (x.serverCpuUsPerCall * x.callsPerSec) / 1e4).sort((a, b) => a - b);
  if (busy.length === 0 || r.serverCpuUsPerCall === undefined) return '—';
  return `${us(r.serverCpuUsPerCall.median)} (${Math.round(busy[busy.length >> 1] as number)} %)`;
}

function latencyRow(label: string, r: CaseResult): string[] {
  const status = statusOf(r);
  if (status !== undefined) return [label, status, '', '', '', '', '', '', '', '', ''];
  return [
    label,
    range(r.callsPerSec, int),
    cell(r.p50, us),
    cell(r.p90, us),
    range(r.p99, us),
    cell(r.p999, us),
    cell(r.clientCpuUsPerCall, us),
    cell(r.serverCpuUsPerCall, us),
    busyCell(r),
    cell(r.errors, int),
    othersCell(r),
  ];
}

const LATENCY_HEAD = [
  'case',
  'calls/s median (min–max)',
  'p50 µs',
  'p90 µs',
  'p99 µs (min–max)',
  'p999 µs',
  'client CPU µs/call',
  'server CPU µs/call',
  'busy cores client + server',
  'errors',
  'others busy (cores)',
];

function compareSection(results: readonly CaseResult[]): string {
  const compare = results.filter((r) => r.group === 'compare');
  const out: string[] = [];
  for (const size of ['64B', '1KiB', 'order~1KiB']) {
    const rows = compare.filter((r) => sizeLabel(r.payload, r.size) === size);
    if (rows.length === 0) continue;
    out.push(
      `### ${size === 'order~1KiB' ? 'The ~1 KiB order message (mini-rpc codecs only)' : `${size} payload`}\n`,
    );
    const summary = new Map<string, Map<number, CaseResult>>();
    for (const r of rows) {
      if (r.mode.kind !== 'closed') continue;
      const key = stackLabel(r.stack, r.codec, r.client.variant);
      const m = summary.get(key) ?? new Map<number, CaseResult>();
      m.set(r.mode.concurrency, r);
      summary.set(key, m);
    }
    const cs = [...new Set(rows.map((r) => (r.mode.kind === 'closed' ? r.mode.concurrency : 0)))].sort(
      (a, b) => a - b,
    );
    out.push(
      table(
        ['calls/s (median)', ...cs.map((c) => `${c} in flight`)],
        [...summary].map(([stack, m]) => [stack, ...cs.map((c) => cell(m.get(c)?.callsPerSec, int))]),
      ),
      '',
      table(
        LATENCY_HEAD,
        rows.map((r) => latencyRow(r.id, r)),
      ),
      '',
    );
  }
  return out.join('\n');
}

function openSection(results: readonly CaseResult[]): string {
  const rows = results.filter((r) => r.group === 'open');
  if (rows.length === 0) return '';
  return [
    '## Open loop (fixed arrival rate, latency from the scheduled send time)\n',
    `${
      rows.every((r) => r.mode.kind === 'open' && r.mode.rate > 0)
        ? 'The rate was fixed on the command line (`--open-rate`), the same for every stack.'
        : "The rate is set from the closed-loop results of the same round: half of the stack's own best calls/s " +
          "at 64 B, or half of the slowest stack's best (the same rate for every stack); and the bare echo " +
          "at mini-rpc's own rate (`@½ mini-rpc max`): what the machine alone costs at the rate of mini-rpc's target."
    } The generator's own lateness (send lag) is part of the latency; the client polls the event loop between ` +
      "close sends, so its CPU per call is not shown here; the server's is, with the share of its core it kept " +
      'busy: a pause (a scavenge, a stall of the host) leaves a queue that only the idle share drains. The ' +
      'client runs on CPU 0 and the server on CPU 1 ' +
      "(taskset): left to the scheduler, the server was often woken on the spinning generator's core and " +
      'waited out its time slice, 4–5 ms without a single answer, while the other core idled.\n',
    pinningCheck(rows),
    table(
      [
        'case',
        'offered calls/s',
        'achieved calls/s',
        'p50 µs',
        'p90 µs',
        'p99 µs (min–max)',
        'p999 µs',
        'server CPU µs/call (busy)',
        'generator send lag p99 µs',
        'dropped',
        'errors',
      ],
      rows.map((r) => {
        const status = statusOf(r);
        if (status !== undefined) return [r.id, status, '', '', '', '', '', '', '', '', ''];
        const lags = r.runs.map((x) => x.sendLag?.p99 ?? 0).sort((a, b) => a - b);
        const offered = r.runs.map((x) => x.offeredRate ?? 0);
        return [
          r.id,
          `${int(Math.min(...offered))}–${int(Math.max(...offered))}`,
          range(r.callsPerSec, int),
          cell(r.p50, us),
          cell(r.p90, us),
          range(r.p99, us),
          cell(r.p999, us),
          serverBusyCell(r),
          us(lags[lags.length >> 1] ?? 0),
          int(r.runs.reduce((a, x) => a + (x.dropped ?? 0), 0)),
          cell(r.errors, int),
        ];
      }),
    ),
    '',
  ].join('\n');
}

/**
 * The line that says whether every run of the pinned `rows` saw as many cores as it was pinned to
 * (`os.availableParallelism()` of client and servers, which follows the CPU affinity).
 */
function pinningCheck(rows: readonly CaseResult[]): string {
  const notPinned = rows.filter((r) => {
    if (r.cpus === undefined) return false;
    const client = cpuList(r.cpus.client).length;
    const servers = cpuList(r.cpus.servers).length;
    return r.runs.some((x) => x.cores !== client || (x.serverCores ?? []).some((c) => c !== servers));
  });
  return notPinned.length === 0
    ? 'Every run checked that its client and server saw the cores they were pinned to (`os.availableParallelism()`).\n'
    : `**Not pinned as asked** (a process saw other cores than it was pinned to): ${notPinned.map((r) => r.id).join(', ')}.\n`;
}

/** The 1-in-flight cases pinned to one core, set beside the same cases on two cores. */
function oneCoreSection(results: readonly CaseResult[]): string {
  const rows = results.filter((r) => r.group === 'one-core');
  if (rows.length === 0) return '';
  const twoCores = (r: CaseResult): CaseResult | undefined =>
    results.find((x) => x.group === 'compare' && x.id === r.id.replace(/ one core$/, ''));
  return [
    `## 1 in flight on one core (client and server pinned to CPU ${rows[0]?.cpus?.client ?? '?'} with taskset)\n`,
    'At 1 in flight every call wakes the server and then the client. In the comparison above the two ' +
      'processes run on different vCPUs, and on a VM a wake-up that crosses vCPUs waits until the host runs ' +
      'the halted vCPU again. Here every process of the case is pinned to one core: no wake-up crosses ' +
      'vCPUs, but client and server no longer run at the same time, so a call costs the CPU of both sides ' +
      'in turn. Stacks that spend little CPU per call gain; those that spend much lose.\n',
    pinningCheck(rows),
    table(
      ['stack', 'calls/s, two cores', 'calls/s, one core', 'p99 µs, two cores', 'p99 µs, one core'],
      rows.map((r) => {
        const two = twoCores(r);
        return [
          stackLabel(r.stack, r.codec),
          cell(two?.callsPerSec, int),
          cell(r.callsPerSec, int),
          range(two?.p99, us),
          range(r.p99, us),
        ];
      }),
    ),
    '',
    table(
      LATENCY_HEAD,
      rows.map((r) => latencyRow(r.id, r)),
    ),
    '',
  ].join('\n');
}

function scenarioSection(results: readonly CaseResult[]): string {
  const out: string[] = [];
  const pool = results.filter((r) => r.group === 'pool');
  if (pool.length > 0) {
    out.push(
      '## Pool of N connections (mini-rpc, `pool.maxActive` = N, `callsPerConnection` = 256 ÷ N)\n',
      table(
        [...LATENCY_HEAD, 'connections created', 'reuse ratio'],
        pool.map((r) => {
          const last = r.runs[r.runs.length - 1];
          return [
            ...latencyRow(r.id, r),
            last?.pool ? int(last.pool.created ?? 0) : '—',
            last?.pool ? `${((last.pool.reuseRatio ?? 0) * 100).toFixed(3)} %` : '—',
          ];
        }),
      ),
      '',
    );
  }
  const mw = results.filter((r) => r.group === 'middleware');
  if (mw.length > 0) {
    const none = mw.find((r) => r.id.startsWith('middleware none'));
    out.push(
      '## Middleware chain cost (server.use(...); every call carries the same auth metadata)\n',
      '`N pass-through` = N × `(ctx, next) => next()`. `default chain` = `defaultChain()` of @mini-rpc/middleware: ' +
        'recovery → logging (pino to /dev/null, every call logged) → metrics (prom-client) → auth (static token) → rate limit (10⁹/s).\n',
      table(
        [...LATENCY_HEAD, 'calls/s ÷ none', 'server CPU µs/call − none'],
        mw.map((r) => {
          const ratio =
            none?.callsPerSec && r.callsPerSec
              ? (r.callsPerSec.median / none.callsPerSec.median).toFixed(3)
              : '—';
          const cpu =
            none?.serverCpuUsPerCall && r.serverCpuUsPerCall
              ? (r.serverCpuUsPerCall.median - none.serverCpuUsPerCall.median).toFixed(2)
              : '—';
          return [...latencyRow(r.id, r), ratio, cpu];
        }),
      ),
      '',
    );
  }
  const bal = results.filter((r) => r.group === 'balancer');
  if (bal.length > 0) {
    out.push(
      '## Three server instances behind each balancer (one client, memory registry listing the 3 processes)\n',
      'Note: 3 server processes and the client share 2 cores here, so total calls/s is CPU-bound, not balancer-bound.\n',
      table(
        [...LATENCY_HEAD, 'share per instance (last round)'],
        bal.map((r) => {
          const last = r.runs[r.runs.length - 1];
          const total = last?.perInstance.reduce((a, b) => a + Math.max(0, b), 0) ?? 0;
          const share =
            last && total > 0
              ? last.perInstance.map((n) => `${((n / total) * 100).toFixed(1)} %`).join(' / ')
              : '—';
          return [...latencyRow(r.id, r), share];
        }),
      ),
      '',
    );
  }
  const fo = results.filter((r) => r.group === 'failover');
  if (fo.length > 0) {
    out.push(
      '## Failover: one of three instances killed (SIGKILL) mid-window\n',
      "The client's memory registry keeps listing the dead instance (as a registry would until its lease expires): " +
        'the client must route around it by itself. "event" = the period right after the kill.\n',
      table(
        [
          'case',
          'calls failed (median, min–max)',
          'errors (all rounds)',
          'p99 µs whole window',
          'p99 µs during event',
          'max µs during event',
          'calls/s before',
          'calls/s after',
        ],
        fo.map((r) => {
          const status = statusOf(r);
          if (status !== undefined) return [r.id, status, '', '', '', '', '', ''];
          const codes: Record<string, number> = {};
          for (const run of r.runs) {
            for (const [k, v] of Object.entries(run.errorMessages ?? run.errorCodes))
              codes[k] = (codes[k] ?? 0) + v;
          }
          const ev = (f: (x: NonNullable<(typeof r.runs)[number]['event']>) => number): number[] =>
            r.runs.flatMap((x) => (x.event ? [f(x.event)] : []));
          const med = (xs: number[]): string =>
            xs.length ? us([...xs].sort((a, b) => a - b)[xs.length >> 1] as number) : '—';
          return [
            r.id,
            range(r.errors, int),
            Object.entries(codes)
              .map(([k, v]) => `${k}: ${v}`)
              .join(', ') || 'none',
            range(r.p99, us),
            med(ev((e) => e.latency.p99)),
            med(ev((e) => e.latency.max)),
            int(r.runs.map((x) => x.before ?? 0).sort((a, b) => a - b)[r.runs.length >> 1] ?? 0),
            int(r.runs.map((x) => x.after ?? 0).sort((a, b) => a - b)[r.runs.length >> 1] ?? 0),
          ];
        }),
      ),
      '',
      'Errors are listed as `code: message` (gRPC numbering: 14 = Unavailable, 4 = DeadlineExceeded; digits in ' +
        'messages masked as N).\n',
    );
  }
  return out.join('\n');
}

function targetsSection(targets: readonly TargetRow[]): string {
  const fmt = (t: TargetRow): string => {
    if (t.measured === undefined) return 'not measured';
    const f =
      t.unit === 'ratio'
        ? (n: number) => n.toFixed(3)
        : t.unit === '%'
          ? (n: number) => `${n.toFixed(3)} %`
          : us;
    return range(t.measured, f);
  };
  return [
    '## Targets (ratios computed in this run, judged on the median over rounds)\n',
    table(
      ['figure', 'measured median (min–max)', 'target', 'source', 'result', 'note'],
      targets.map((t) => [
        t.figure,
        fmt(t),
        t.target,
        t.source,
        t.pass === undefined ? (t.source === 'info' ? 'info' : 'n/a') : t.pass ? '**PASS**' : '**FAIL**',
        t.note ?? '',
      ]),
    ),
    '',
  ].join('\n');
}

function microSection(micro: MicroResults | undefined): string {
  if (micro === undefined) return '## Micro benchmarks\n\nNo results/micro.json in this run.\n';
  return [
    `## Micro benchmarks (results/micro.json, ${micro.date}${micro.quick ? ', quick' : ''})\n`,
    table(
      ['task', 'median µs/op', 'mean µs/op'],
      micro.tasks.map((t) => [t.name, t.p50Us.toFixed(3), t.meanUs.toFixed(3)]),
    ),
    '',
  ].join('\n');
}

function noiseLine(results: readonly CaseResult[], cores: number): string {
  const xs = results
    .flatMap((r) => r.runs.flatMap((x) => (x.otherBusyCores === undefined ? [] : [x.otherBusyCores])))
    .sort((a, b) => a - b);
  if (xs.length === 0) return 'not measured (no /proc/stat)';
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  return `mean ${mean.toFixed(2)}, median ${(xs[xs.length >> 1] as number).toFixed(2)}, max ${(xs[xs.length - 1] as number).toFixed(2)} cores (of ${cores})`;
}

function machineSection(m: MachineInfo, input: ReportInput): string {
  const s = input.settings;
  return [
    `Measured ${m.date} in ${input.mode} mode (${Math.round(input.durationS)} s). Command:\n`,
    '```sh',
    m.command,
    '```\n',
    table(
      ['', ''],
      [
        ['CPU', `${m.cpuModel}, ${m.cores} cores`],
        ['OS', m.os],
        ['memory', `${m.memoryGiB} GiB (${m.freeMemoryGiB} GiB free at the end)`],
        ['load average at the end', m.loadAverage.join(' / ')],
        ['other processes during the windows', noiseLine(input.results, m.cores)],
        ['Node', `${m.node} (V8 ${m.v8})`],
        ['git', `${m.gitCommit}${m.gitDirty ? ' (packages/ had uncommitted changes)' : ''}`],
        [
          'rounds × window',
          // Results from before the call-count warm-up have no warmupCalls.
          s.warmupCalls === undefined
            ? `${s.rounds} × (${s.warmupMs} ms warm-up + ${s.windowMs} ms window); failover ${s.failover.windowMs} ms`
            : `${s.rounds} × (warm-up ≥ ${s.warmupMs} ms and ≥ ${s.warmupCalls.toLocaleString('en-US')} calls, at most ${s.maxWarmupMs} ms; then a ${s.windowMs} ms window); failover ${s.failover.windowMs} ms` +
              // Results from before the open loop's own warm-up have no openWarmupMs.
              (s.openWarmupMs === undefined ? '' : `; the open loop warms up ≥ ${s.openWarmupMs} ms`),
        ],
        [
          'packages',
          Object.entries(m.packages)
            .map(([k, v]) => `${k} ${v}`)
            .join(', '),
        ],
      ],
    ),
    '',
  ].join('\n');
}

const METHOD = `## How it is measured

- Every case starts its server process(es) and one client process, all on 127.0.0.1; this process only
  orchestrates (IPC). Each stack echoes the same payload. On this 2-core machine client and server each
  get about one core; the open loop pins them to that (client on CPU 0, server on CPU 1, with taskset),
  the one-core cases pin both to CPU 0, and the rest is left to the scheduler. A process pinned to one CPU
  runs V8 with \`--single-threaded-gc\`: V8's parallel GC helpers could only run there by preempting the
  main thread, which waited for them (it halved the open loop's send-lag p99 here, on every stack).
- **Closed loop**: C calls always in flight (C = 1, 16, 64, 256). **Open loop**: calls are due at a fixed
  rate; latency is measured from the *scheduled* send time, so a stall counts against latency (no
  coordinated omission).
- Warm-up, then a bounded window; a call counts when it ends inside the window. The warm-up lasts a minimum
  time *and* a minimum number of calls (bounded in time): at 1 call in flight a short warm-up leaves V8 still
  optimising the stack's code inside the window. The open loop warms up longer: each of its processes has one
  core, which the spinning generator keeps busy, so V8's background compiler finishes late. Rounds run one after the other and the cases of a slot
  (same payload and C) rotate their order each round. Figures are the median over rounds with min–max.
  Percentiles come from hdr-histogram-js (JS build, 3 significant digits); the loops store each latency in
  an array and the histogram is filled after the window (recording into it cost ~100 ns per value, taken
  from the client's core).
- CPU per call: \`process.cpuUsage()\` (user + system) over the window ÷ calls, taken by each process itself.
- Busy cores = CPU per call × calls/s for client and server. At 64 or more calls in flight, a sum near 1.0
  (of 2 cores) means the two processes took turns — the whole window of calls travels as one batch, so one
  side waits while the other works — rather than worked in parallel.
- Others busy = cores used by other processes of the machine during the window (from /proc/stat): a row with
  a high value was measured on a busy machine. In full mode each run first waits (up to 3 s, 2 min over the
  whole run) for the other processes to use less than 0.3 cores.
- At 1 in flight a call is two wake-ups of an idle process. On a VM an idle vCPU halts and takes tens of µs
  to wake, so a C=1 run on an otherwise idle machine can be *slower* than one beside a busy process (whose
  vCPU never halts). Rounds pair the stacks under similar conditions; read the C=1 ratios with "others busy".
  The one-core table runs the same cases with both processes pinned to one CPU, where no wake-up crosses
  vCPUs (and the two sides' CPU per call adds up).
- The loops hand the recorder every call, warm-up included, and it files each by time (its end, or in the
  open loop its due time), so the per-call code is the same before and in the window. Code that branched on
  "window open" made V8 deoptimise and recompile the hot path when the window opened, which put millisecond
  stalls into its first 100–200 ms.
- Stacks: **bare** = node:net with u32 length-prefixed frames, batched like mini-rpc's transport (the frames
  of one event-loop turn in one write, flushed on setImmediate, and a batch of 16 frames or 256 KiB written at
  once, each such batch of a turn up to twice the last: 16, 32, 64, …) — the ceiling; **bare uncapped
  batch** = the same without the 16-frame cap. **mini-rpc** = one client, one
  connection (\`pool.maxActive: 1\`), payload \`{ data }\` (Uint8Array for msgpack/protobuf, the same bytes
  as a latin1 string for JSON). **grpc** = @grpc/grpc-js unary on one channel, a hand-written service
  definition with raw Buffer serializers (no protobuf work at all: the kindest case for grpc-js).
  **http** = node:http server, undici \`Pool\` with keep-alive, \`connections = min(C, 64)\`, no pipelining.
  **moleculer** = Moleculer 0.14, a broker per process on its TCP transporter (no UDP discovery; the client
  finds the server by gossip from its address), default JSON serializer, \`broker.call('echo.echo', { data })\`
  with the bytes as a latin1 string, as in mini-rpc's JSON cases.
`;

/** Renders REPORT.md: method, machine, targets, charts, then every table. */
export function renderReport(input: ReportInput): string {
  const failures = input.results.filter((r) => r.failed !== undefined || r.skipped !== undefined);
  return [
    '# mini-rpc load benchmark report\n',
    input.mode === 'quick'
      ? '> **Quick mode**: one short round, for smoke runs. Do not quote these numbers.\n'
      : '',
    machineSection(input.machine, input),
    targetsSection(input.targets),
    '## Charts\n',
    ...input.charts.map((c) => `![${c.title}](charts/${c.file})\n`),
    '## Comparison (closed loop)\n',
    compareSection(input.results),
    openSection(input.results),
    oneCoreSection(input.results),
    scenarioSection(input.results),
    microSection(input.micro),
    METHOD,
    failures.length === 0
      ? ''
      : `## Skipped or failed cases\n\n${failures
          .map(
            (r) =>
              `- ${r.id}: ${r.skipped ?? `${r.failed}${r.runs.length > 0 ? ` (${r.runs.length} run(s) counted)` : ''}`}`,
          )
          .join('\n')}\n`,
    'Raw figures of every run: [results/latest.json](results/latest.json).\n',
  ].join('\n');
}
