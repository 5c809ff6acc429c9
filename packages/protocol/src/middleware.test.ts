import { describe, expect, it } from 'vitest';
import { isThenable } from './index.js';

/** An object whose `then` is `then`: a thenable when it is a function, a plain object otherwise. */
const withThen = (then: unknown): object => ({ then });

describe('isThenable', () => {
  it('is true for promises and for objects or functions with a then method', () => {
    const then = (): undefined => undefined;
    const fn = Object.defineProperty(() => 1, 'then', { value: then });
    expect([isThenable(Promise.resolve(1)), isThenable(withThen(then)), isThenable(fn)]).toEqual([
      true,
      true,
      true,
    ]);
  });

  it('is false for plain values, null, and a then that is not a function', () => {
    for (const v of [undefined, null, 0, 'then', withThen(1), { id: 'alice' }, () => 1]) {
      expect(isThenable(v), String(v)).toBe(false);
    }
  });
});
