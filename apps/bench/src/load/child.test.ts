import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cannotPin, cpuList, forkChild, pinnedExecArgv, stopChild, TASKSET, waitFor } from './child.js';

describe('cpuList', () => {
  it('reads the CPU lists taskset -c takes', () => {
    expect([cpuList('0'), cpuList('1'), cpuList('0-2'), cpuList('0,3'), cpuList('0-1,4')]).toEqual([
      [0],
      [1],
      [0, 1, 2],
      [0, 3],
      [0, 1, 4],
    ]);
  });
});

describe('cannotPin', () => {
  // The CI machine and this one are Linux with util-linux: taskset is there.
  it('finds taskset on this machine', () => {
    expect(TASKSET).toMatch(/\/taskset$/);
  });

  it('accepts CPUs this process may use, and names a CPU it may not', () => {
    expect(cannotPin(['0', '1'], 2)).toBeUndefined();
    expect(cannotPin(['0', '1'], 1)).toBe('pinned to CPU 1, but this process may use only 1 CPU(s)');
    expect(cannotPin(['0', '2-3'], 2)).toBe('pinned to CPU 3, but this process may use only 2 CPU(s)');
  });
});

describe('pinnedExecArgv', () => {
  it("gives a process pinned to one CPU single-threaded GC, before the run's own flags", () => {
    expect(pinnedExecArgv('1', ['--trace-gc'])).toEqual(['--single-threaded-gc', '--trace-gc']);
    // The run's flags come last, so --no-single-threaded-gc can turn it off again.
    expect(pinnedExecArgv('0', ['--no-single-threaded-gc'])).toEqual([
      '--single-threaded-gc',
      '--no-single-threaded-gc',
    ]);
  });

  it("leaves unpinned processes, and processes with more than one CPU, to V8's defaults", () => {
    expect(pinnedExecArgv(undefined, ['--trace-gc'])).toEqual(['--trace-gc']);
    expect(pinnedExecArgv('0-1', [])).toEqual([]);
    expect(pinnedExecArgv('0,1', [])).toEqual([]);
  });

  it('reaches a child forked onto one CPU', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-child-'));
    const entry = join(dir, 'child.mjs');
    writeFileSync(
      entry,
      "import { availableParallelism } from 'node:os';\n" +
        "process.send({ type: 'flags', execArgv: process.execArgv, cpus: availableParallelism() });\n" +
        "process.on('message', (m) => { if (m.type === 'stop') process.exit(0); });\n",
    );
    const child = forkChild(entry, [], ['--max-semi-space-size=8'], '0');
    try {
      const m = await waitFor(child, 'flags', 10_000, 'pinned child');
      expect(m.execArgv).toEqual(['--single-threaded-gc', '--max-semi-space-size=8']);
      expect(m.cpus).toBe(1);
    } finally {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
