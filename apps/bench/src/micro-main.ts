import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import { addCodecTasks, benchCodecs, codecRoundTripTask } from './micro/codec-tasks.js';
import { addFrameTasks, frameTask } from './micro/frame-tasks.js';
import type { Target } from './micro/report.js';
import { printable, printableTargets, target, taskFigures } from './micro/report.js';

// Micro-benchmarks of the per-call hot path: codecs and frames.
// `node dist/micro-main.js [--quick] [--results-dir=DIR]`. Writes micro.json to DIR (default: results/ next to
// dist/). Exits non-zero only when a task fails, never on a missed target.
const quick = process.argv.includes('--quick');
const dirArg = process.argv.find((a) => a.startsWith('--results-dir='))?.slice('--results-dir='.length);
const resultsDir =
  dirArg === undefined
    ? fileURLToPath(new URL('../results/', import.meta.url))
    : `${dirArg.replace(/\/$/, '')}/`;

const bench = new Bench({
  name: 'mini-rpc micro',
  time: quick ? 200 : 1500,
  warmupTime: quick ? 50 : 300,
  // hrtime has ns resolution; the timer's own cost is subtracted, as these tasks take 0.1…20 µs.
  timestampProvider: 'hrtimeNow',
  subtractTimerOverhead: true,
  throws: true,
});
const { json, msgpack, protobuf } = benchCodecs();
const sizes = addCodecTasks(bench, [json, msgpack, protobuf]);
addFrameTasks(bench);

console.log(`${bench.name}${quick ? ' (quick)' : ''}: node ${process.version}, ${cpus()[0]?.model ?? 'cpu'}`);
console.log(`encoded sizes of the bench message (bytes): ${JSON.stringify(sizes)}`);
await bench.run();
console.table(bench.table());

const rows = taskFigures(bench);
const msgpackRow = codecRoundTripTask(msgpack);
const targets: Target[] = [
  target(rows, 'msgpack encode+decode 1KiB, µs', msgpackRow, ['≤ 10', (v) => v <= 10]),
  target(
    rows,
    'msgpack / JSON (encode+decode 1KiB)',
    [msgpackRow, codecRoundTripTask(json)],
    ['< 1', (v) => v < 1],
  ),
  target(
    rows,
    'frame 1KiB / msgpack encode+decode',
    [frameTask(1024), msgpackRow],
    ['< 0.2', (v) => v < 0.2],
  ),
];
console.table(printable(rows));
console.table(printableTargets(targets));

mkdirSync(resultsDir, { recursive: true });
const file = `${resultsDir}micro.json`;
const report = {
  bench: bench.name,
  quick,
  date: new Date().toISOString(),
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  encodedBytes: sizes,
  tasks: rows,
  targets,
};
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
console.log(`results written to ${file}`);
