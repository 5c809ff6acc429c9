#!/usr/bin/env node
// Runs every workspace's tests through turbo, then sums the per-package vitest JSON reports into the one
// closing line CI reads: `tests: N passed, N failed, N skipped`. Exits non-zero if any test failed, if a
// package's run failed, or if no test ran at all (TOOLCHAIN.md: vitest's own closing lines are per package).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dirs = ['packages', 'apps'].flatMap((d) =>
  readdirSync(join(root, d), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => join(root, d, e.name)),
);
for (const dir of dirs) rmSync(join(dir, '.vitest-report.json'), { force: true });

const extra = process.argv.slice(2);
const run = spawnSync(
  'pnpm',
  ['exec', 'turbo', 'run', 'test', '--concurrency=1', '--continue', '--output-logs=full', ...extra],
  {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, VITEST_JSON: '1', TURBO_TELEMETRY_DISABLED: '1' },
  },
);

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const dir of dirs) {
  const file = join(dir, '.vitest-report.json');
  if (!existsSync(file)) {
    if (existsSync(join(dir, 'package.json')) && hasTests(dir)) missing.push(dir);
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  if (report.numFailedTestSuites > 0 && report.numFailedTests === 0) failed += report.numFailedTestSuites;
}
for (const dir of missing) console.error(`no test report from ${dir.slice(root.length)} (its run crashed?)`);

function hasTests(dir) {
  const walk = (d) =>
    readdirSync(d, { withFileTypes: true }).some((e) =>
      e.isDirectory()
        ? e.name !== 'node_modules' && e.name !== 'dist' && walk(join(d, e.name))
        : e.name.endsWith('.test.ts'),
    );
  return ['src', 'test'].some((s) => existsSync(join(dir, s)) && walk(join(dir, s)));
}

console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
const ok = run.status === 0 && failed === 0 && missing.length === 0 && passed > 0;
process.exit(ok ? 0 : 1);
