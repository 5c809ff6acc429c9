import { describe, expect, it } from 'vitest';
import { cannotPin, cpuList, TASKSET } from './child.js';

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
