import { Code } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { parseEtcdUrl } from './index.js';

describe('parseEtcdUrl', () => {
  it('maps etcd://, etcds://, http(s):// and bare host:port to http(s) endpoints', () => {
    expect(parseEtcdUrl('etcd://127.0.0.1:2379')).toEqual(['http://127.0.0.1:2379']);
    expect(parseEtcdUrl('etcds://etcd.example:2379')).toEqual(['https://etcd.example:2379']);
    expect(parseEtcdUrl('http://10.0.0.1:2379/')).toEqual(['http://10.0.0.1:2379']);
    expect(parseEtcdUrl('https://10.0.0.1:2379')).toEqual(['https://10.0.0.1:2379']);
    expect(parseEtcdUrl('localhost:2379')).toEqual(['http://localhost:2379']);
    expect(parseEtcdUrl('etcd://[::1]:2379')).toEqual(['http://[::1]:2379']);
  });

  it('splits a comma list, with the scheme given once or on every member', () => {
    expect(parseEtcdUrl('etcd://a:1,b:2, c:3')).toEqual(['http://a:1', 'http://b:2', 'http://c:3']);
    expect(parseEtcdUrl('etcds://a:1,etcd://b:2')).toEqual(['https://a:1', 'http://b:2']);
  });

  it('throws InvalidArgument for an unknown scheme, a missing port or nothing at all', () => {
    for (const bad of ['redis://a:1', 'etcd://host', '', ' , ', 'etcd://:2379']) {
      expect(() => parseEtcdUrl(bad), bad).toThrow(expect.objectContaining({ code: Code.InvalidArgument }));
    }
  });
});
