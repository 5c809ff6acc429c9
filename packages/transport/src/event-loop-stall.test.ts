import { spawn } from 'node:child_process';
import type { Frame, OutgoingFrame, RpcError } from '@mini-rpc/protocol';
import { Code, CodecId, FrameType } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { useCleanups, waitFor } from '../../../tooling/testing/harness.js';
import type { Connection, ConnectionHandlers, ConnectionOptions } from './index.js';
import { connect, createConnection, listen } from './index.js';

// When synchronous work blocks the event loop for longer than a timeout, libuv runs the timers phase before
// the poll phase that would deliver what the peer sent (or took) meanwhile: the deadlines must be judged
// after that poll, not from the timer alone.

const cleanups = useCleanups();

const QUIET: ConnectionOptions = { heartbeatIntervalMs: 0, readTimeoutMs: 0, writeTimeoutMs: 0 };
const TIMEOUT_MS = 200;
const STALL_MS = 3 * TIMEOUT_MS;

/** What one side of a connection saw. */
interface Side {
  conn: Connection;
  frames: Frame[];
  closes: (RpcError | undefined)[];
  drains: number;
}

function recorder(): { side: Side; handlers: ConnectionHandlers } {
  const side: Side = { conn: undefined as unknown as Connection, frames: [], closes: [], drains: 0 };
  const handlers: ConnectionHandlers = {
    onFrame: (f) => side.frames.push(f),
    onClose: (e) => side.closes.push(e),
    onDrain: () => {
      side.drains++;
    },
  };
  return { side, handlers };
}

/** A client connection with `options` and the server's side of it (QUIET), over TCP on 127.0.0.1. */
async function pair(options: ConnectionOptions): Promise<{ client: Side; server: Side }> {
  const server = recorder();
  const listener = await listen({
    onSocket: (socket) => {
      server.side.conn = createConnection(socket, server.handlers, QUIET);
    },
  });
  cleanups.push(() => listener.close());
  const client = recorder();
  client.side.conn = await connect(
    { host: '127.0.0.1', port: listener.port, ...QUIET, ...options },
    client.handlers,
  );
  cleanups.push(() => client.side.conn.close());
  await waitFor(() => server.side.conn !== undefined, 3_000, 'the accept');
  cleanups.push(() => server.side.conn.close());
  return { client: client.side, server: server.side };
}

/**
 * Resolves in the check phase (a setImmediate), after the immediates queued before it (a flush). A stall
 * that starts here is followed by the timers phase, then the poll: the order that made the timer blind.
 */
const checkPhase = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Blocks the event loop for `ms` of synchronous work, bounded by the clock; returns the spins it took. */
function stall(ms: number): number {
  const end = Date.now() + ms;
  let spins = 0;
  while (Date.now() < end) spins++;
  return spins;
}

const request = (id: number, payload?: Uint8Array): OutgoingFrame => ({
  type: FrameType.Request,
  codec: CodecId.Json,
  id,
  ...(payload === undefined ? {} : { payload }),
});

/**
 * A peer in another process, so that it can read while this one is stalled. It accepts one connection and
 * reads nothing until `startReading()` (a byte on its stdin), then reads everything; it exits with its stdin.
 */
const READER_SOURCE = `
const net = require('node:net');
const server = net.createServer((socket) => {
  socket.on('error', () => {});
  socket.on('data', () => {});
  socket.pause();
  process.stdin.once('data', () => socket.resume());
});
process.stdin.on('end', () => process.exit(0));
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
`;

async function childReader(): Promise<{ port: number; startReading(): void }> {
  const child = spawn(process.execPath, ['-e', READER_SOURCE], { stdio: ['pipe', 'pipe', 'inherit'] });
  cleanups.push(() => {
    child.stdin.end();
    child.kill();
  });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the reader exited (${String(code)}) before listening`)));
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('\n')) resolve(Number(out.trim()));
    });
  });
  return { port, startReading: () => child.stdin.write('r') };
}

describe('an event-loop stall', () => {
  it('longer than readTimeoutMs does not close a peer whose bytes wait to be read; its real silence still does', async () => {
    const { client, server } = await pair({ readTimeoutMs: TIMEOUT_MS });
    server.conn.send(request(1)); // flushed by an immediate queued before checkPhase's
    await checkPhase();
    // The frame is in the client's kernel buffer, unread: the peer spoke during the stall.
    stall(STALL_MS);
    const t0 = Date.now();
    await waitFor(() => client.frames.length + client.closes.length > 0, 3_000, 'the frame, or a close');
    expect(client.closes).toEqual([]);
    expect(client.frames.map((f) => f.id)).toEqual([1]);
    expect(client.conn.closed).toBe(false);

    // From now on the peer says nothing: the read timeout closes, a timeout after the last byte.
    await waitFor(() => client.closes.length > 0, 3_000, 'the read timeout');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(client.closes[0]?.code).toBe(Code.Unavailable);
    expect(client.closes[0]?.message).toMatch(/silent/);
  });

  it('longer than readTimeoutMs closes a peer that sent nothing, counting the stall', async () => {
    const { client } = await pair({ readTimeoutMs: TIMEOUT_MS });
    await checkPhase();
    stall(STALL_MS);
    await waitFor(() => client.closes.length > 0, 3_000, 'the read timeout');
    expect(client.closes[0]?.code).toBe(Code.Unavailable);
    const silentFor = Number(/silent for (\d+) ms/.exec(client.closes[0]?.message ?? '')?.[1]);
    expect(silentFor).toBeGreaterThanOrEqual(STALL_MS);
  });

  it('longer than writeTimeoutMs does not close a connection whose peer read everything meanwhile', async () => {
    const peer = await childReader();
    const { side, handlers } = recorder();
    const conn = await connect(
      { host: '127.0.0.1', port: peer.port, ...QUIET, writeTimeoutMs: TIMEOUT_MS },
      handlers,
    );
    side.conn = conn;
    cleanups.push(() => conn.close());
    // Small frames, one per turn while the socket takes them, until it stays pushed back for three turns
    // (a drain comes in the first poll if the kernel has room): the peer's buffers are full. Bounded: 64 MiB.
    let blockedTurns = 0;
    for (let id = 1; id <= 256 && blockedTurns < 3; id++) {
      if (conn.writable) {
        blockedTurns = 0;
        conn.send(request(id, new Uint8Array(256 << 10)));
      } else blockedTurns++;
      await checkPhase();
    }
    expect(conn.writable).toBe(false);
    const drains = side.drains;

    peer.startReading();
    stall(STALL_MS); // the peer reads the kernel buffers empty meanwhile; the socket drains in the next poll
    await waitFor(() => side.drains > drains || side.closes.length > 0, 3_000, 'the drain');
    expect(side.closes).toEqual([]);
    expect(conn.closed).toBe(false);
    expect(conn.writable).toBe(true);
  });
});
