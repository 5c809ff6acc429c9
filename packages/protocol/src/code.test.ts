import { describe, expect, it } from 'vitest';
import { Code, codeName, isCallerError, isCode, isRetryable } from './index.js';

describe('Code', () => {
  it('uses gRPC numbering', () => {
    expect(Code).toEqual({
      OK: 0,
      Cancelled: 1,
      Unknown: 2,
      InvalidArgument: 3,
      DeadlineExceeded: 4,
      NotFound: 5,
      AlreadyExists: 6,
      PermissionDenied: 7,
      ResourceExhausted: 8,
      FailedPrecondition: 9,
      Aborted: 10,
      OutOfRange: 11,
      Unimplemented: 12,
      Internal: 13,
      Unavailable: 14,
      DataLoss: 15,
      Unauthenticated: 16,
    });
  });

  it('isCode accepts exactly the integers 0…16', () => {
    for (const value of Object.values(Code)) expect(isCode(value)).toBe(true);
    for (const value of [-1, 17, 1.5, Number.NaN, '3', null, undefined]) expect(isCode(value)).toBe(false);
  });

  it('codeName names every code and marks unknown numbers', () => {
    for (const [name, value] of Object.entries(Code)) expect(codeName(value)).toBe(name);
    expect(codeName(42)).toBe('Code(42)');
    expect(codeName(-1)).toBe('Code(-1)');
  });

  it('isRetryable: transient conditions only', () => {
    const retryable = Object.values(Code).filter(isRetryable);
    expect(retryable.sort((a, b) => a - b)).toEqual([Code.ResourceExhausted, Code.Aborted, Code.Unavailable]);
  });

  it('isCallerError: what the caller got wrong, never what the instance did', () => {
    for (const code of [Code.InvalidArgument, Code.NotFound, Code.Unauthenticated, Code.PermissionDenied])
      expect(isCallerError(code)).toBe(true);
    for (const code of [Code.OK, Code.Unknown, Code.DeadlineExceeded, Code.Unavailable, Code.Internal])
      expect(isCallerError(code)).toBe(false);
    expect(Object.values(Code).filter((c) => isCallerError(c) && isRetryable(c))).toEqual([]);
  });
});
