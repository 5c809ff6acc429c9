import type { Frame, RpcError } from '@mini-rpc/protocol';
import { Code, FrameType } from '@mini-rpc/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestPki } from '../../../tooling/testing/certs.js';
import { createTestPki } from '../../../tooling/testing/certs.js';
import { useCleanups, waitFor } from '../../../tooling/testing/harness.js';
import type { Connection } from './index.js';
import { connect, createConnection, listen } from './index.js';

// What each side learns when a server that requires client certificates refuses one (Node 20, OpenSSL 3).

const cleanups = useCleanups();

const QUIET = { heartbeatIntervalMs: 0, readTimeoutMs: 0, writeTimeoutMs: 0 };

let pki: TestPki;
beforeAll(() => {
  pki = createTestPki();
});

/** An echo server over mutual TLS (client certificates of the test CA only); its onError reports in `errors`. */
async function mtlsServer(maxVersion?: 'TLSv1.2') {
  const errors: Error[] = [];
  const conns: Connection[] = [];
  const listener = await listen({
    tls: {
      key: pki.serverKey,
      cert: pki.serverCert,
      ca: pki.ca,
      requestCert: true,
      ...(maxVersion === undefined ? {} : { maxVersion }),
    },
    onSocket: (s) => {
      const echo = (f: Frame, conn: Connection) => conn.send({ ...f, type: FrameType.Response });
      conns.push(createConnection(s, { onFrame: echo }, QUIET));
    },
    onError: (e) => errors.push(e),
  });
  cleanups.push(() => {
    for (const c of conns) c.close();
    return listener.close();
  });
  return { port: listener.port, errors };
}

/** How a client with `identity` (key and cert, or none) fared: connect's rejection, or its connection's close. */
async function attempt(port: number, identity: { key: string; cert: string } | undefined) {
  const frames: Frame[] = [];
  const closes: (RpcError | undefined)[] = [];
  let conn: Connection;
  try {
    conn = await connect(
      { host: '127.0.0.1', port, ...QUIET, tls: { ca: pki.ca, ...identity } },
      { onFrame: (f) => frames.push(f), onClose: (e) => closes.push(e) },
    );
  } catch (err) {
    return { connected: false, error: err as RpcError, frames };
  }
  cleanups.push(() => conn.close());
  await waitFor(() => closes.length > 0, 3_000, 'the connection to close');
  return { connected: true, error: closes[0], frames };
}

describe('mutual TLS', () => {
  it('a client certificate of the trusted CA: frames go both ways', async () => {
    const server = await mtlsServer();
    const frames: Frame[] = [];
    const conn = await connect(
      {
        host: '127.0.0.1',
        port: server.port,
        ...QUIET,
        tls: { ca: pki.ca, key: pki.clientKey, cert: pki.clientCert },
      },
      { onFrame: (f) => frames.push(f) },
    );
    cleanups.push(() => conn.close());
    conn.send({ type: FrameType.Request, codec: 0, id: 1 });
    await waitFor(() => frames.length === 1, 3_000, 'the echo');
    expect(server.errors).toEqual([]);
  });

  it('no client certificate (TLS 1.3): the certificate_required alert comes after the handshake, so onClose gets Unauthenticated', async () => {
    const server = await mtlsServer();
    const seen = await attempt(server.port, undefined);
    expect(seen.connected).toBe(true);
    expect(seen.error?.code).toBe(Code.Unauthenticated);
    expect(seen.error?.rawMessage).toBe(
      'connection: TLS certificate rejected (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED)',
    );
    await waitFor(() => server.errors.length > 0, 3_000, "the server's report");
    expect((server.errors[0] as RpcError).code).toBe(Code.Unauthenticated);
  });

  it('no client certificate (TLS 1.2): a handshake_failure alert, which says no more than that: connect rejects with Unavailable', async () => {
    const server = await mtlsServer('TLSv1.2');
    const seen = await attempt(server.port, undefined);
    expect(seen.connected).toBe(false);
    expect(seen.error?.code).toBe(Code.Unavailable);
    expect(seen.error?.rawMessage).toMatch(/TLS failure \(ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE\)$/);
  });

  it('an untrusted client certificate: the server reports Unauthenticated with the reason; the client is hung up on without an alert', async () => {
    const server = await mtlsServer();
    const seen = await attempt(server.port, { key: pki.rogueKey, cert: pki.rogueCert });
    await waitFor(() => server.errors.length > 0, 3_000, "the server's report");
    expect((server.errors[0] as RpcError).code).toBe(Code.Unauthenticated);
    expect((server.errors[0] as RpcError).rawMessage).toBe(
      'TLS handshake: client certificate rejected (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
    );
    // Node's server checks the certificate after the handshake and destroys the socket, sending no TLS alert:
    // under TLS 1.3 the client's handshake is complete by then, and all it sees is the peer closing (a FIN,
    // or a reset if it had sent something), nothing that names the certificate.
    expect(seen.connected).toBe(true);
    expect(seen.frames).toEqual([]);
    expect([undefined, Code.Unavailable]).toContain(seen.error?.code);
  });
});
