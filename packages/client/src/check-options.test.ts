import { describe, expect, it } from 'vitest';
import type { ClientOptions, PoolOptions } from './index.js';
import { ConnectionPool, createClient, parseAddress } from './index.js';

const address = '127.0.0.1:4000';

describe('createClient refuses numeric options out of range with a TypeError', () => {
  it.each<[PoolOptions, string]>([
    [{ maxActive: 0 }, 'maxActive must be an integer ≥ 1, got 0'],
    [{ maxActive: -1 }, 'maxActive must be an integer ≥ 1, got -1'],
    [{ maxActive: Number.NaN }, 'maxActive must be an integer ≥ 1, got NaN'],
    [{ maxActive: Number.POSITIVE_INFINITY }, 'maxActive must be an integer ≥ 1, got Infinity'],
    [{ maxActive: 1.5 }, 'maxActive must be an integer ≥ 1, got 1.5'],
    [{ maxIdle: -1 }, 'maxIdle must be an integer ≥ 0, got -1'],
    [{ maxIdle: Number.NaN }, 'maxIdle must be an integer ≥ 0, got NaN'],
    [{ idleTimeoutMs: 0 }, 'idleTimeoutMs must be a number of ms > 0 (Infinity: never), got 0'],
    [{ idleTimeoutMs: Number.NaN }, 'idleTimeoutMs must be a number of ms > 0 (Infinity: never), got NaN'],
    [{ callsPerConnection: 0 }, 'callsPerConnection must be a number ≥ 1, got 0'],
    [{ callsPerConnection: Number.NaN }, 'callsPerConnection must be a number ≥ 1, got NaN'],
    [{ initialBackoffMs: -1 }, 'initialBackoffMs must be a number of ms in 0…2147483647, got -1'],
    [{ initialBackoffMs: Number.NaN }, 'initialBackoffMs must be a number of ms in 0…2147483647, got NaN'],
    [
      { maxBackoffMs: Number.POSITIVE_INFINITY },
      'maxBackoffMs must be a number of ms in 0…2147483647, got Infinity',
    ],
  ])('pool %o', (pool, message) => {
    expect(() => createClient({ address, pool })).toThrow(new TypeError(`createClient: pool: ${message}`));
    expect(() => new ConnectionPool({ host: '127.0.0.1', port: 4000 }, pool)).toThrow(
      new TypeError(`ConnectionPool: ${message}`),
    );
  });

  it.each<[ClientOptions, string]>([
    [{ timeoutMs: 0 }, 'timeoutMs must be a number of ms > 0 (Infinity: no deadline), got 0'],
    [{ timeoutMs: Number.NaN }, 'timeoutMs must be a number of ms > 0 (Infinity: no deadline), got NaN'],
    [
      { connectTimeoutMs: Number.POSITIVE_INFINITY },
      'connectTimeoutMs must be a number of ms in 1…2147483647, got Infinity',
    ],
    [{ connectTimeoutMs: 0 }, 'connectTimeoutMs must be a number of ms in 1…2147483647, got 0'],
    [
      { heartbeatIntervalMs: -1 },
      'heartbeatIntervalMs must be a number of ms in 0…2147483647 (0: off), got -1',
    ],
    [{ readTimeoutMs: Number.NaN }, 'readTimeoutMs must be a number of ms in 0…2147483647 (0: off), got NaN'],
    [
      { readTimeoutMs: 2 ** 32 },
      'readTimeoutMs must be a number of ms in 0…2147483647 (0: off), got 4294967296',
    ],
  ])('%o', (options, message) => {
    expect(() => createClient({ address, ...options })).toThrow(new TypeError(`createClient: ${message}`));
  });

  it('takes the values at the edges of each range', () => {
    const edges: ClientOptions = {
      timeoutMs: Number.POSITIVE_INFINITY,
      connectTimeoutMs: 2 ** 31 - 1,
      heartbeatIntervalMs: 0,
      readTimeoutMs: 0,
      pool: {
        maxActive: 1,
        maxIdle: 0,
        idleTimeoutMs: Number.POSITIVE_INFINITY,
        callsPerConnection: 1,
        initialBackoffMs: 0,
        maxBackoffMs: 0,
      },
    };
    expect(() => createClient({ address, ...edges })).not.toThrow();
  });
});

describe('parseAddress refuses what nothing can connect to', () => {
  it.each<unknown>([
    '127.0.0.1:0',
    '127.0.0.1:65536',
    { host: '', port: 4000 },
    { host: '127.0.0.1', port: 0 },
    { host: '127.0.0.1', port: 70_000 },
    { host: '127.0.0.1', port: Number.NaN },
    { host: '127.0.0.1', port: 1.5 },
    { host: '127.0.0.1', port: '4000' },
    null,
  ])('%o', (input) => {
    expect(() => parseAddress(input as string)).toThrow(TypeError);
    expect(() => createClient({ address: input as string })).toThrow(TypeError);
  });

  it.each([
    ['', 4000],
    ['127.0.0.1', 0],
    ['127.0.0.1', 70_000],
  ])('new ConnectionPool({ host: %o, port: %o }) throws', (host, port) => {
    expect(() => new ConnectionPool({ host, port })).toThrow(TypeError);
  });

  it('passes a valid { host, port } through', () => {
    const a = { host: '::1', port: 65_535 };
    expect(parseAddress(a)).toBe(a);
  });
});
