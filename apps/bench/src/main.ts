// `pnpm bench` → `node dist/main.js [--quick] [--only=…]`: runs the micro benchmarks (dist/micro-main.js),
// then the load benchmarks, writes results/latest.json and renders REPORT.md with charts/*.svg.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseBenchArgs } from './load/bench-args.js';
import type { CaseResult } from './load/case-spec.js';
import type { SuiteSettings } from './load/cases.js';
import { buildCases, FULL, QUICK } from './load/cases.js';
import { installChildCleanup } from './load/child.js';
import { runSuite } from './load/suite.js';
import { writeCharts } from './report/charts.js';
import type { MachineInfo } from './report/machine-info.js';
import { machineInfo } from './report/machine-info.js';
import { readMicroResults } from './report/micro-results.js';
import { targetRows } from './report/ratios.js';
import { renderReport } from './report/render-report.js';

/** What results/latest.json holds. */
interface LatestResults {
  machine: MachineInfo;
  mode: 'full' | 'quick';
  settings: SuiteSettings;
  durationS: number;
  results: CaseResult[];
}

const benchDir = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
const distDir = `${benchDir}/dist`;
const argv = process.argv.slice(2).filter((a) => a !== '--');
const args = parseBenchArgs(argv);
const outDir = args.out ?? benchDir;

/** Runs the micro benchmarks and the load suite; returns what latest.json will hold. */
async function measure(): Promise<LatestResults> {
  const settings = {
    ...(args.quick ? QUICK : FULL),
    ...(args.rounds === undefined ? {} : { rounds: args.rounds }),
  };
  const all = buildCases(settings, args.openRate);
  const cases =
    args.only.length === 0 ? all : all.filter((c) => args.only.some((o) => c.id.toLowerCase().includes(o)));
  installChildCleanup();
  const started = performance.now();
  if (!args.skipMicro && existsSync(`${distDir}/micro-main.js`)) {
    console.log('== micro benchmarks ==');
    const micro = spawnSync(
      process.execPath,
      [`${distDir}/micro-main.js`, `--results-dir=${outDir}/results`, ...(args.quick ? ['--quick'] : [])],
      {
        stdio: 'inherit',
        timeout: 300_000,
      },
    );
    if (micro.status !== 0)
      console.error(`micro benchmarks failed (status ${micro.status}); going on with the load benchmarks`);
  }
  console.log(
    `== load benchmarks: ${cases.length} cases × ${settings.rounds} round(s), ` +
      `warm-up ≥ ${settings.warmupMs} ms (open loop ${settings.openWarmupMs} ms) and ≥ ${settings.warmupCalls} calls ` +
      `(≤ ${settings.maxWarmupMs} ms), then a ${settings.windowMs} ms window each ==`,
  );
  const profileDir = `${benchDir}/profiles`;
  if (args.cpuProf) mkdirSync(profileDir, { recursive: true });
  const results = await runSuite(
    cases,
    settings,
    {
      distDir,
      execArgv: [...(args.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []), ...args.nodeFlags],
      // On a shared machine, wait up to 3 s before a run for others to stay under 0.3 cores (2 min in all).
      ...(args.quick ? {} : { quietGate: { maxBusyCores: 0.3, maxWaitMs: 3_000, budgetMs: 120_000 } }),
    },
    (line) => console.log(line),
  );
  const command = `pnpm bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
  return {
    machine: machineInfo(benchDir, command, argv),
    mode: args.quick ? 'quick' : 'full',
    settings,
    durationS: (performance.now() - started) / 1000,
    results,
  };
}

if (args.list) {
  for (const c of buildCases(FULL, args.openRate)) console.log(c.id);
  process.exit(0);
}
const latestFile = `${outDir}/results/latest.json`;
const latest: LatestResults = args.render
  ? (JSON.parse(readFileSync(latestFile, 'utf8')) as LatestResults)
  : await measure();
// This run's micro results when it made them (`--out` puts them there too), else the last ones of the app.
const microFile = [`${outDir}/results/micro.json`, `${benchDir}/results/micro.json`].find((f) =>
  existsSync(f),
);
const micro = readMicroResults(microFile ?? `${benchDir}/results/micro.json`);
const targets = targetRows(latest.results, micro);
const charts = await writeCharts(latest.results, `${outDir}/charts`);
mkdirSync(`${outDir}/results`, { recursive: true });
writeFileSync(latestFile, `${JSON.stringify({ ...latest, targets }, null, 2)}\n`);
writeFileSync(`${outDir}/REPORT.md`, renderReport({ ...latest, targets, charts, micro }));
console.log('\n== targets ==');
console.table(
  targets.map((t) => ({
    figure: t.figure,
    median: t.measured === undefined ? '—' : Number(t.measured.median.toFixed(3)),
    target: t.target,
    source: t.source,
    result: t.pass === undefined ? '' : t.pass ? 'PASS' : 'FAIL',
  })),
);
console.log(`results: ${latestFile}, report: ${outDir}/REPORT.md (${Math.round(latest.durationS)} s)`);
