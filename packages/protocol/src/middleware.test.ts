import { describe, expect, it } from 'vitest';
import { isThenable } from './index.js';

describe('isThenable', () => {
  it('is true for promises and for objects or functions with a then method', () => {
    const thenableFn = Object.assign(() => 1, { then: () => undefined });
    expect([
      isThenable(Promise.resolve(1)),
      isThenable({ then: () => undefined }),
      isThenable(thenableFn),
    ]).toEqual([true, true, true]);
  });

  it('is false for plain values, null, and a then that is not a function', () => {
    for (const v of [undefined, null, 0, 'then', { then: 1 }, { id: 'alice' }, () => 1]) {
      expect(isThenable(v), String(v)).toBe(false);
    }
  });
});
