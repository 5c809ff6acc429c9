import { describe, expect, it } from 'vitest';
import { parseBenchArgs } from './bench-args.js';

describe('parseBenchArgs', () => {
  it('reads the flags pnpm passes through, ignoring a bare --', () => {
    const args = parseBenchArgs(['--', '--quick', '--only=Bare,  grpc 64B', '--rounds=2']);
    expect(args.quick).toBe(true);
    expect(args.only).toEqual(['bare', 'grpc 64b']);
    expect(args.rounds).toBe(2);
    expect(args.skipMicro).toBe(false);
    expect(args.nodeFlags).toEqual([]);
  });

  it('collects --node-flag values for the child processes', () => {
    const args = parseBenchArgs(['--node-flag=--trace-gc', '--node-flag=--max-semi-space-size=64']);
    expect(args.nodeFlags).toEqual(['--trace-gc', '--max-semi-space-size=64']);
    expect(() => parseBenchArgs(['--node-flag=trace-gc'])).toThrow(/unknown flag/);
  });

  it('reads a fixed open-loop rate and refuses one that is not a positive integer', () => {
    expect(parseBenchArgs([]).openRate).toBeUndefined();
    expect(parseBenchArgs(['--open-rate=190000']).openRate).toBe(190_000);
    for (const bad of ['--open-rate=0', '--open-rate=1.5', '--open-rate=abc', '--open-rate=']) {
      expect(() => parseBenchArgs([bad]), bad).toThrow(/--open-rate must be/);
    }
  });

  it('refuses an unknown flag and an out-of-range round count', () => {
    expect(() => parseBenchArgs(['--qiuck'])).toThrow(/unknown flag --qiuck/);
    expect(() => parseBenchArgs(['--rounds=0'])).toThrow(TypeError);
  });
});
