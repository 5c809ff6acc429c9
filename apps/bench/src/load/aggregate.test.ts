import { describe, expect, it } from 'vitest';
import { spread } from './aggregate.js';

describe('spread', () => {
  it('gives the median with min and max, averaging the middle pair of an even count', () => {
    expect(spread([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3 });
    expect(spread([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4 });
    expect(spread([])).toEqual({ median: 0, min: 0, max: 0 });
  });
});
