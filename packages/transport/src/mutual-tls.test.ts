import type { Frame, RpcError } from '@mini-rpc/protocol';
import { Code, FrameType, MetadataKey } from '@mini-rpc/protocol';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TestPki } from '../../../tooling/testing/certs.js';
import { createTestPki } from '../../../tooling/testing/certs.js';
import { useCleanups, waitFor } from '../../../tooling/testing/harness.js';
import type { Connection } from './index.js';
import { connect, createConnection, listen } from './index.js';

// What each side learns when a server that requires client certificates refuses one (Node 20, OpenSSL 3):
// listen() checks the certificate itself and says why in a GoAway, where Node would hang up without a word.

const cleanups = useCleanups();

const QUIET = { heartbeatIntervalMs: 0, readTimeoutMs: 0, writeTimeoutMs: 0 };

let pki: TestPki;
beforeAll(() => {
  pki = createTestPki();
});

/** An echo server over mutual TLS (client certificates of the test CA only); its onError reports in `errors`. */
async function mtlsServer(maxVersion?: 'TLSv1.2', extra: { rejectUnauthorized?: boolean } = {}) {
  const errors: Error[] = [];
  const conns: Connection[] = [];
  const listener = await listen({
    tls: {
      key: pki.serverKey,
      cert: pki.serverCert,
      ca: pki.ca,
      requestCert: true,
      ...(maxVersion === undefined ? {} : { maxVersion }),
      ...extra,
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
  return {
    port: listener.port,
    errors,
    /** Sockets handed to onSocket. */
    get sockets() {
      return conns.length;
    },
  };
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

/** Connects with `identity`, sends one Request and waits for its echo; returns the frames received. */
async function echoOnce(port: number, identity: { key: string; cert: string }): Promise<Frame[]> {
  const frames: Frame[] = [];
  const conn = await connect(
    { host: '127.0.0.1', port, ...QUIET, tls: { ca: pki.ca, ...identity } },
    { onFrame: (f) => frames.push(f) },
  );
  cleanups.push(() => conn.close());
  conn.send({ type: FrameType.Request, codec: 0, id: 1 });
  await waitFor(() => frames.length === 1, 3_000, 'the echo');
  return frames;
}

describe('mutual TLS', () => {
  it('a client certificate of the trusted CA: frames go both ways', async () => {
    const server = await mtlsServer();
    await echoOnce(server.port, { key: pki.clientKey, cert: pki.clientCert });
    expect(server.errors).toEqual([]);
  });

  /** What a refused client is told: GoAway(Unauthenticated) with id 0, no call accepted. */
  const refusal = (frames: Frame[]) =>
    frames.map((f) => ({
      type: f.type,
      id: f.id,
      status: f.metadata[MetadataKey.Status],
      message: f.metadata[MetadataKey.Message],
    }));

  for (const version of [undefined, 'TLSv1.2'] as const) {
    const tls = version ?? 'TLS 1.3';

    it(`no client certificate (${tls}): the client is told GoAway(Unauthenticated), the server reports it, no frame reaches onSocket`, async () => {
      const server = await mtlsServer(version);
      const seen = await attempt(server.port, undefined);
      expect(seen.connected).toBe(true);
      expect(refusal(seen.frames)).toEqual([
        {
          type: FrameType.GoAway,
          id: 0,
          status: String(Code.Unauthenticated),
          message: 'no client certificate',
        },
      ]);
      await waitFor(() => server.errors.length > 0, 3_000, "the server's report");
      expect((server.errors[0] as RpcError).code).toBe(Code.Unauthenticated);
      expect(server.sockets).toBe(0);
    });

    it(`an untrusted client certificate (${tls}): GoAway(Unauthenticated) naming Node's reason; the server reports it`, async () => {
      const server = await mtlsServer(version);
      const seen = await attempt(server.port, { key: pki.rogueKey, cert: pki.rogueCert });
      expect(seen.connected).toBe(true);
      expect(refusal(seen.frames)).toEqual([
        {
          type: FrameType.GoAway,
          id: 0,
          status: String(Code.Unauthenticated),
          message: 'client certificate rejected (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
        },
      ]);
      await waitFor(() => server.errors.length > 0, 3_000, "the server's report");
      expect((server.errors[0] as RpcError).rawMessage).toBe(
        'TLS handshake: client certificate rejected (UNABLE_TO_VERIFY_LEAF_SIGNATURE)',
      );
      expect(server.sockets).toBe(0);
    });
  }

  it('rejectUnauthorized: false keeps the choice to the owner: an untrusted certificate reaches onSocket', async () => {
    const server = await mtlsServer(undefined, { rejectUnauthorized: false });
    const frames = await echoOnce(server.port, { key: pki.rogueKey, cert: pki.rogueCert });
    expect(frames[0]?.type).toBe(FrameType.Response);
    expect(server.sockets).toBe(1);
  });
});
