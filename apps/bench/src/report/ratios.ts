import { spread } from '../load/aggregate.js';
import type { CaseResult, RunResult, Spread } from '../load/case-spec.js';
import type { MicroResults } from './micro-results.js';
import { codecRoundTripUs } from './micro-results.js';

/** One figure held to one target of an issue. */
export interface TargetRow {
  readonly figure: string;
  /** Median over rounds, with min–max; `undefined` when the cases did not run. */
  readonly measured: Spread | undefined;
  readonly unit: 'ratio' | 'µs' | '%';
  /** `≥ 0.6`, `≤ 200`, or `—` for an informative row. */
  readonly target: string;
  readonly source: string;
  /** `undefined` for informative rows and missing data. */
  readonly pass: boolean | undefined;
  readonly note?: string;
}

type Check = { op: '≥' | '≤'; value: number; source: string };

const byId = (results: readonly CaseResult[], id: string): CaseResult | undefined =>
  results.find((r) => r.id === id);

/** Ratio a ÷ b per round (paired by round number), as median and min–max over the rounds both ran. */
function pairedRatio(
  a: CaseResult | undefined,
  b: CaseResult | undefined,
  f: (r: RunResult) => number,
): Spread | undefined {
  if (a === undefined || b === undefined) return undefined;
  const ratios: number[] = [];
  for (const ra of a.runs) {
    const rb = b.runs.find((r) => r.round === ra.round);
    if (rb !== undefined && f(rb) > 0) ratios.push(f(ra) / f(rb));
  }
  return ratios.length === 0 ? undefined : spread(ratios);
}

function rows(
  figure: string,
  measured: Spread | undefined,
  unit: TargetRow['unit'],
  checks: Check[],
  note?: string,
): TargetRow[] {
  if (checks.length === 0) {
    return [
      { figure, measured, unit, target: '—', source: 'info', pass: undefined, ...(note ? { note } : {}) },
    ];
  }
  return checks.map((c) => ({
    figure,
    measured,
    unit,
    target: `${c.op} ${c.value}`,
    source: c.source,
    pass:
      measured === undefined
        ? undefined
        : c.op === '≥'
          ? measured.median >= c.value
          : measured.median <= c.value,
    ...(note ? { note } : {}),
  }));
}

const p99Of = (c: CaseResult | undefined): Spread | undefined => (c?.p99 === undefined ? undefined : c.p99);

/** An open-loop case's median arrival rate, and the calls its generator skipped (too many waiting), if any. */
function openNote(c: CaseResult | undefined): string | undefined {
  if (c === undefined || c.runs.length === 0) return undefined;
  const rate = Math.round(spread(c.runs.map((r) => r.offeredRate ?? 0)).median);
  const dropping = c.runs.filter((r) => (r.dropped ?? 0) > 0);
  const dropped = dropping.reduce((sum, r) => sum + (r.dropped ?? 0), 0);
  const skipped =
    dropped === 0
      ? ''
      : `; its generator skipped ${dropped.toLocaleString('en-US')} calls (too many waiting) in ` +
        `${dropping.length} of ${c.runs.length} rounds`;
  return `arrival rate ${rate.toLocaleString('en-US')} calls/s${skipped}`;
}

/**
 * The targets of the issues, computed from this run: one connection msgpack 64 B against the bare echo at 1
 * and 64 in flight, p99 bounds, mini-rpc against grpc-js, 1 KiB against the codec's own cost from the micro
 * bench of the same run, open-loop p99 at half the measured max, pool reuse; plus the middleware cost.
 */
export function targetRows(results: readonly CaseResult[], micro: MicroResults | undefined): TargetRow[] {
  const out: TargetRow[] = [];
  const calls = (r: RunResult): number => r.callsPerSec;
  const rpc1 = byId(results, 'mini-rpc msgpack 64B C=1');
  const bare1 = byId(results, 'bare 64B C=1');
  const rpc64 = byId(results, 'mini-rpc msgpack 64B C=64');
  const rpc1Pinned = byId(results, 'mini-rpc msgpack 64B C=1 one core');
  out.push(
    ...rows(
      'mini-rpc ÷ bare echo, calls/s, msgpack 64 B, 1 in flight',
      pairedRatio(rpc1, bare1, calls),
      'ratio',
      [
        { op: '≥', value: 0.6, source: 'issue 3' },
        { op: '≥', value: 0.7, source: 'issue 7' },
      ],
    ),
    ...rows('mini-rpc p99, msgpack 64 B, 1 in flight', p99Of(rpc1), 'µs', [
      { op: '≤', value: 200, source: 'issue 3' },
      { op: '≤', value: 150, source: 'issue 7' },
    ]),
    // The floor under that bound: the bare echo's own p99 in the same run.
    ...rows('bare echo p99, 64 B, 1 in flight (the floor of the row above)', p99Of(bare1), 'µs', []),
    // The same two figures with client and server pinned to one core: without the VM's cross-vCPU wake-ups.
    ...rows(
      'mini-rpc ÷ bare echo, calls/s, msgpack 64 B, 1 in flight, client and server on one core',
      pairedRatio(rpc1Pinned, byId(results, 'bare 64B C=1 one core'), calls),
      'ratio',
      [],
    ),
    ...rows(
      'mini-rpc p99, msgpack 64 B, 1 in flight, client and server on one core',
      p99Of(rpc1Pinned),
      'µs',
      [],
    ),
    ...rows(
      'mini-rpc ÷ bare echo, calls/s, msgpack 64 B, 64 in flight',
      pairedRatio(rpc64, byId(results, 'bare 64B C=64'), calls),
      'ratio',
      [
        { op: '≥', value: 0.2, source: 'issue 3' },
        { op: '≥', value: 0.3, source: 'issue 7' },
      ],
    ),
    ...rows('mini-rpc p99, msgpack 64 B, 64 in flight', p99Of(rpc64), 'µs', [
      { op: '≤', value: 2000, source: 'issue 3' },
      { op: '≤', value: 1000, source: 'issue 7' },
    ]),
    ...rows(
      'mini-rpc ÷ grpc-js, calls/s, 64 B, 64 in flight',
      pairedRatio(rpc64, byId(results, 'grpc 64B C=64'), calls),
      'ratio',
      [{ op: '≥', value: 30, source: 'issue (brief: "≥ 30× grpc-js")' }],
    ),
    ...rows(
      'mini-rpc ÷ Moleculer (TCP transporter), calls/s, 64 B, 64 in flight',
      pairedRatio(rpc64, byId(results, 'moleculer json 64B C=64'), calls),
      'ratio',
      [],
    ),
    ...rows(
      'mini-rpc ÷ Moleculer (TCP transporter), calls/s, 64 B, 1 in flight',
      pairedRatio(rpc1, byId(results, 'moleculer json 64B C=1'), calls),
      'ratio',
      [],
    ),
  );
  out.push(
    ...rows(
      'mini-rpc ÷ bare echo without the batch cap, calls/s, msgpack 64 B, 64 in flight',
      pairedRatio(rpc64, byId(results, 'bare uncapped batch 64B C=64'), calls),
      'ratio',
      [],
    ),
  );
  const order = byId(results, 'mini-rpc msgpack order~1KiB C=64');
  // Each run's calls/s against the codec's cost timed in the same process right after its window; the
  // start-of-run micro bench figure follows as information (the host's speed drifts over a long run).
  const probed = (order?.runs ?? []).filter((r) => (r.codecUsPerCall ?? 0) > 0);
  const probedUs = probed.length ? spread(probed.map((r) => r.codecUsPerCall ?? 0)) : undefined;
  const codecUs = codecRoundTripUs(micro, 'msgpack');
  const codecRate = codecUs === undefined ? undefined : 1e6 / codecUs;
  const microRatio =
    order?.runs.length && codecRate !== undefined
      ? spread(order.runs.map((r) => r.callsPerSec / codecRate))
      : undefined;
  const figure = 'mini-rpc 1 KiB (order message) calls/s ÷ (1 ÷ msgpack encode+decode), 64 in flight';
  const microNote =
    codecUs === undefined
      ? 'no micro bench result in this run'
      : `msgpack encode+decode of the order message: ${codecUs.toFixed(2)} µs (micro bench median, ` +
        `${micro?.date ?? '?'}) → ${Math.round(codecRate ?? 0).toLocaleString('en-US')}/s`;
  if (probedUs === undefined) {
    out.push(
      ...rows(
        figure,
        microRatio,
        'ratio',
        [{ op: '≥', value: 0.5, source: 'issue (benchmark suite)' }],
        microNote,
      ),
    );
  } else {
    const us = (v: number): string => v.toFixed(2);
    out.push(
      ...rows(
        `${figure}, codec timed right after each run`,
        spread(probed.map((r) => (r.callsPerSec * (r.codecUsPerCall ?? 0)) / 1e6)),
        'ratio',
        [{ op: '≥', value: 0.5, source: 'issue (benchmark suite)' }],
        `msgpack encode+decode of the order message, timed by the micro bench's task in the client ` +
          `process after each window: ${us(probedUs.median)} µs (${us(probedUs.min)}–${us(probedUs.max)})`,
      ),
      ...rows(`${figure}, codec timed once at the start of the run`, microRatio, 'ratio', [], microNote),
    );
  }
  const open = byId(results, 'mini-rpc msgpack 64B open @½ own max');
  const bareOpen = byId(results, 'bare 64B open @½ own max');
  const bareAtMiniRate = byId(results, 'bare 64B open @½ mini-rpc max');
  out.push(
    ...rows(
      'mini-rpc p99, open loop at ½ of its measured max rate, msgpack 64 B',
      p99Of(open),
      'µs',
      [{ op: '≤', value: 1000, source: 'issue (benchmark suite)' }],
      openNote(open),
    ),
    // The floor under that bound: the bare echo offered the same rate in the same rounds.
    ...rows(
      'bare echo p99, open loop at mini-rpc’s rate (the floor of the row above)',
      p99Of(bareAtMiniRate),
      'µs',
      [],
      openNote(bareAtMiniRate),
    ),
    // The same target put to the ceiling: the bare echo at half of its own maximum.
    ...rows(
      'bare echo p99, open loop at ½ of its own measured max rate (the same target, put to the ceiling)',
      p99Of(bareOpen),
      'µs',
      [],
      openNote(bareOpen),
    ),
  );
  const pools = results.filter((r) => r.group === 'pool' && r.runs.length > 0);
  const reuse = pools.flatMap((p) => p.runs.map((r) => (r.pool?.reuseRatio ?? 0) * 100));
  out.push(
    ...rows(
      'pool reuse ratio (lowest run over the pool cases; range = all runs)',
      reuse.length
        ? { median: Math.min(...reuse), min: Math.min(...reuse), max: Math.max(...reuse) }
        : undefined,
      '%',
      [{ op: '≥', value: 99, source: 'issue (benchmark suite)' }],
    ),
  );
  const none = byId(results, 'middleware none mini-rpc msgpack 64B C=64');
  for (const label of ['1 pass-through', '5 pass-through', '10 pass-through', 'default chain']) {
    const withMw = byId(results, `middleware ${label} mini-rpc msgpack 64B C=64`);
    if (withMw?.skipped !== undefined) continue;
    out.push(
      ...rows(
        `middleware ${label} ÷ none, calls/s, 64 in flight`,
        pairedRatio(withMw, none, calls),
        'ratio',
        // Issue 6: the full default chain (logging to a null destination, metrics, auth, rate limit) keeps
        // at least 0.7× the calls/s of no middleware.
        label === 'default chain' ? [{ op: '≥', value: 0.7, source: 'issue 6' }] : [],
      ),
    );
  }
  return out;
}
