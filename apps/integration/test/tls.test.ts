import { createClient } from '@mini-rpc/client';
import type { RpcError } from '@mini-rpc/protocol';
import { Code } from '@mini-rpc/protocol';
import { createServer, silentLogger } from '@mini-rpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestPki } from '../../../tooling/testing/certs.js';
import { createTestPki } from '../../../tooling/testing/certs.js';
import { Arith } from './fixtures.js';

describe('TLS transport', () => {
  let pki: TestPki;
  const servers: { close(o?: { graceMs?: number }): Promise<void> }[] = [];
  let tlsPort = 0;
  let mtlsPort = 0;
  const mtlsArith = new Arith();

  beforeAll(async () => {
    pki = createTestPki();
    const tls = createServer({ logger: silentLogger, tls: { key: pki.serverKey, cert: pki.serverCert } });
    tls.addService(new Arith());
    tlsPort = (await tls.listen()).port;
    const mtls = createServer({
      logger: silentLogger,
      tls: {
        key: pki.serverKey,
        cert: pki.serverCert,
        ca: pki.ca,
        requestCert: true,
        rejectUnauthorized: true,
      },
    });
    mtls.addService(mtlsArith);
    mtlsPort = (await mtls.listen()).port;
    servers.push(tls, mtls);
  });
  afterAll(async () => {
    for (const s of servers) await s.close({ graceMs: 500 });
  });

  it('serves calls over TLS to a client that trusts the CA', async () => {
    const client = createClient({ address: `127.0.0.1:${tlsPort}`, tls: { ca: pki.ca } });
    expect(await client.call('Arith', 'add', { a: 1, b: 2 })).toBe(3);
    await client.close();
  });

  it('a plaintext client cannot talk to a TLS server', async () => {
    const client = createClient({ address: `127.0.0.1:${tlsPort}`, timeoutMs: 1_000 });
    const err = (await client.call('Arith', 'add', { a: 1, b: 2 }).catch((e: unknown) => e)) as RpcError;
    expect([Code.Unavailable, Code.DeadlineExceeded]).toContain(err.code);
    await client.close();
  });

  it('a client that does not trust the server certificate refuses it', async () => {
    const client = createClient({ address: `127.0.0.1:${tlsPort}`, tls: {} });
    const err = (await client.call('Arith', 'add', { a: 1, b: 2 }).catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Code.Unauthenticated);
    await client.close();
  });

  it('mutual TLS: a trusted client certificate works', async () => {
    const client = createClient({
      address: `127.0.0.1:${mtlsPort}`,
      tls: { ca: pki.ca, key: pki.clientKey, cert: pki.clientCert },
    });
    expect(await client.call('Arith', 'add', { a: 2, b: 2 })).toBe(4);
    await client.close();
  });

  it('mutual TLS: a client without a certificate is refused', async () => {
    const client = createClient({ address: `127.0.0.1:${mtlsPort}`, tls: { ca: pki.ca }, timeoutMs: 2_000 });
    const err = (await client.call('Arith', 'add', { a: 1, b: 2 }).catch((e: unknown) => e)) as RpcError;
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe('no client certificate');
    await client.close();
  });

  it('mutual TLS: a client with an untrusted certificate is refused and no handler runs', async () => {
    const before = mtlsArith.calls;
    const client = createClient({
      address: `127.0.0.1:${mtlsPort}`,
      tls: { ca: pki.ca, key: pki.rogueKey, cert: pki.rogueCert },
      timeoutMs: 2_000,
    });
    const err = (await client.call('Arith', 'add', { a: 1, b: 2 }).catch((e: unknown) => e)) as RpcError;
    // The server says why (a GoAway), where Node alone would hang up without a word under TLS 1.3.
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe('client certificate rejected (UNABLE_TO_VERIFY_LEAF_SIGNATURE)');
    expect(mtlsArith.calls).toBe(before);
    await client.close();
  });
});
