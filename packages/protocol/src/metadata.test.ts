import { describe, expect, it } from 'vitest';
import { type Metadata, MetadataKey, userMetadataProblem } from './index.js';

describe('userMetadataProblem', () => {
  it('accepts user keys with string values, and an empty block', () => {
    expect(userMetadataProblem({})).toBeUndefined();
    expect(
      userMetadataProblem({ authorization: 'Bearer x', 'x-€': 'v', ['k'.repeat(65_535)]: 'v' }),
    ).toBeUndefined();
  });

  it('names a reserved key, a value that is not a string, and a key over 65,535 UTF-8 bytes', () => {
    expect(userMetadataProblem({ [MetadataKey.Timeout]: '5' })).toBe("key ':t' is reserved");
    expect(userMetadataProblem({ n: 5 } as unknown as Metadata)).toBe(
      "value of 'n' is a number, not a string",
    );
    expect(userMetadataProblem({ ['k'.repeat(65_536)]: 'v' })).toBe(
      'key of 65536 bytes exceeds 65535 (UTF-8)',
    );
    // 21,846 three-byte characters: few enough UTF-16 units to look short, too many bytes.
    expect(userMetadataProblem({ ['€'.repeat(21_846)]: 'v' })).toBe(
      'key of 65538 bytes exceeds 65535 (UTF-8)',
    );
  });
});
