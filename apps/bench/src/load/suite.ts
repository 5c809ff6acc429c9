import { availableParallelism } from 'node:os';
import { aggregate } from './aggregate.js';
import type { CaseResult, CaseSpec, ClientSpec, RunResult } from './case-spec.js';
import type { SuiteSettings } from './cases.js';
import { cannotPin } from './child.js';
import type { QuietGate } from './machine-load.js';
import { waitForQuiet } from './machine-load.js';
import { missingPackage } from './optional.js';
import type { RunOptions } from './run-case.js';
import { runCase } from './run-case.js';

/** Rate used by an open-loop case whose closed-loop sources were not run (e.g. filtered out by --only). */
const FALLBACK_RATE = 5_000;

/** A line of progress: which run, how far, what it measured. */
export type ProgressFn = (line: string) => void;

/** Orders a round: cases of one slot stay together, and their order rotates by `round` (no position bias). */
export function roundOrder(cases: readonly CaseSpec[], round: number): CaseSpec[] {
  const slots = new Map<string, CaseSpec[]>();
  for (const c of cases) {
    const key = `${c.group}|${c.slot}`;
    const list = slots.get(key) ?? [];
    list.push(c);
    slots.set(key, list);
  }
  const out: CaseSpec[] = [];
  for (const list of slots.values()) {
    const k = round % list.length;
    out.push(...list.slice(k), ...list.slice(0, k));
  }
  return out;
}

/** The highest closed-loop calls/s of a stack at 64 B in this round (its own codec), if measured. */
function maxRate(spec: CaseSpec, results: readonly { spec: CaseSpec; run: RunResult }[]): number | undefined {
  let max: number | undefined;
  for (const { spec: s, run } of results) {
    if (s.group !== 'compare' || s.client.payload !== 'bytes' || s.client.size !== spec.client.size) continue;
    if (s.client.stack !== spec.client.stack || s.client.codec !== spec.client.codec) continue;
    if (max === undefined || run.callsPerSec > max) max = run.callsPerSec;
  }
  return max;
}

/** Resolves an open-loop case's rate from the closed-loop results of the same round. */
export function resolveRate(
  spec: CaseSpec,
  all: readonly CaseSpec[],
  round: readonly { spec: CaseSpec; run: RunResult }[],
): number {
  const rule = spec.rateFrom;
  if (rule === undefined || spec.client.mode.kind !== 'open') return 0;
  let base: number | undefined;
  if (rule.rule === 'half-own-max') base = maxRate(spec, round);
  else if (rule.rule === 'half-mini-rpc-max') {
    // The rate mini-rpc's own open loop (msgpack) gets in this round, whether or not --only selected it.
    base = maxRate({ ...spec, client: { ...spec.client, stack: 'mini-rpc', codec: 'msgpack' } }, round);
  } else {
    const peers = all.filter((c) => c.group === 'open' && c.rateFrom?.rule === rule.rule);
    const maxima = peers.map((p) => maxRate(p, round));
    if (maxima.every((m) => m !== undefined)) base = Math.min(...(maxima as number[]));
  }
  return Math.max(100, Math.round((base ?? FALLBACK_RATE / rule.fraction) * rule.fraction));
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

/**
 * Runs every case `settings.rounds` times, the rounds one after another and the cases of each slot
 * interleaved, and aggregates each case over its rounds. With a quiet gate, each run first waits (bounded)
 * for other processes of the machine to calm down. A case whose packages are missing is skipped; a
 * case that fails is recorded with its error and the suite goes on.
 */
export async function runSuite(
  cases: readonly CaseSpec[],
  settings: SuiteSettings,
  options: RunOptions & { readonly quietGate?: QuietGate },
  progress: ProgressFn,
): Promise<CaseResult[]> {
  const budget = { leftMs: options.quietGate?.budgetMs ?? 0 };
  const runs = new Map<string, RunResult[]>();
  const skipped = new Map<string, string>();
  const failed = new Map<string, { count: number; first: string }>();
  for (const c of cases) {
    runs.set(c.id, []);
    const missing = c.needs === undefined ? undefined : await missingPackage(c.needs);
    if (missing !== undefined) skipped.set(c.id, `@mini-rpc/${missing} is not built yet`);
    else if (c.cpus !== undefined) {
      const unpinnable = cannotPin([c.cpus.client, c.cpus.servers], availableParallelism());
      if (unpinnable !== undefined) skipped.set(c.id, unpinnable);
    }
  }
  const runnable = cases.filter((c) => !skipped.has(c.id));
  const total = runnable.length * settings.rounds;
  const started = performance.now();
  let n = 0;
  for (let round = 1; round <= settings.rounds; round++) {
    const done: { spec: CaseSpec; run: RunResult }[] = [];
    for (const spec of roundOrder(runnable, round - 1)) {
      n++;
      let client: Omit<ClientSpec, 'ports'> = spec.client;
      if (spec.client.mode.kind === 'open' && spec.rateFrom !== undefined) {
        client = { ...client, mode: { ...spec.client.mode, rate: resolveRate(spec, runnable, done) } };
      }
      const head = `[${n}/${total}] round ${round}/${settings.rounds} ${spec.id}`;
      if (options.quietGate !== undefined) await waitForQuiet(options.quietGate, budget);
      try {
        const run = await runCase(spec, client, round, options);
        runs.get(spec.id)?.push(run);
        done.push({ spec, run });
        const elapsed = (performance.now() - started) / 1000;
        const eta = (elapsed / n) * (total - n);
        const l = run.latency;
        progress(
          `${head}: ${fmt(run.callsPerSec)} calls/s, p50 ${l.p50} µs, p99 ${l.p99} µs` +
            `${run.errors > 0 ? `, ${run.errors} errors` : ''}` +
            `${run.otherBusyCores === undefined ? '' : `, others busy ${run.otherBusyCores.toFixed(2)} cores`}` +
            `  (ETA ${Math.round(eta)} s)`,
        );
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const f = failed.get(spec.id);
        if (f === undefined) failed.set(spec.id, { count: 1, first: message.split('\n')[0] ?? message });
        else f.count++;
        progress(`${head}: FAILED ${message}`);
      }
    }
  }
  if (options.quietGate !== undefined) {
    const waited = (options.quietGate.budgetMs - budget.leftMs) / 1000;
    progress(`waited ${waited.toFixed(1)} s in all for other processes to calm down`);
  }
  return cases.map((c) => {
    const outcome: { skipped?: string; failed?: string } = {};
    const s = skipped.get(c.id);
    const f = failed.get(c.id);
    if (s !== undefined) outcome.skipped = s;
    if (f !== undefined) outcome.failed = `${f.count} run${f.count > 1 ? 's' : ''} failed: ${f.first}`;
    return aggregate(c, runs.get(c.id) ?? [], outcome);
  });
}
