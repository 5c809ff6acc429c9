import type { Socket } from 'node:net';

/** mini-rpc transport's default batch cap (frames); 0 turns the cap off. */
export const DEFAULT_BATCH_FRAMES = 16;
/** mini-rpc transport's default batch cap (bytes). */
const BATCH_BYTES = 256 * 1024;

/**
 * Writes u32-length-prefixed frames with the same batching as mini-rpc's transport: the frames queued in
 * one event-loop turn leave in one socket write (flushed on `setImmediate`), except that a batch reaching
 * `maxFrames` frames or 256 KiB leaves at once (so the peer starts on it), and each such early batch of
 * the turn may be twice the last (16, 32, 64, …; the next turn starts at `maxFrames` again); while the
 * socket pushes back, frames wait for `drain`.
 */
export class FrameWriter {
  private readonly socket: Socket;
  private readonly maxFrames: number;
  /** This turn's early-write size: `maxFrames`, doubled after each early write. */
  private batchFrames: number;
  private queue: Uint8Array[] = [];
  private bytes = 0;
  private scheduled = false;
  private blocked = false;
  private readonly flushBound = (): void => {
    this.batchFrames = this.maxFrames;
    this.flush();
  };

  constructor(socket: Socket, maxFrames = DEFAULT_BATCH_FRAMES) {
    this.socket = socket;
    this.maxFrames = maxFrames > 0 ? maxFrames : Number.POSITIVE_INFINITY;
    this.batchFrames = this.maxFrames;
    socket.on('drain', () => {
      this.blocked = false;
      this.batchFrames = this.maxFrames;
      this.flush();
    });
  }

  push(payload: Uint8Array): void {
    this.queue.push(payload);
    this.bytes += 4 + payload.length;
    if ((this.queue.length >= this.batchFrames || this.bytes >= BATCH_BYTES) && !this.blocked) {
      this.batchFrames *= 2;
      const pending = this.scheduled;
      this.flush();
      this.scheduled = pending; // flush() cleared it, but the turn's end must still come
    }
    if (!this.scheduled && !this.blocked) {
      this.scheduled = true;
      setImmediate(this.flushBound);
    }
  }

  private flush(): void {
    this.scheduled = false;
    if (this.blocked || this.queue.length === 0 || this.socket.destroyed) return;
    const out = Buffer.allocUnsafe(this.bytes);
    let n = 0;
    for (const p of this.queue) {
      out.writeUInt32BE(p.length, n);
      out.set(p, n + 4);
      n += 4 + p.length;
    }
    this.queue = [];
    this.bytes = 0;
    if (!this.socket.write(out)) this.blocked = true;
  }
}

/** Splits a byte stream into u32-length-prefixed frames; each payload is a view into the received chunk. */
export function createFrameSplitter(onFrame: (payload: Buffer) => void): (chunk: Buffer) => void {
  let rest: Buffer | undefined;
  return (chunk) => {
    const buf = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    rest = undefined;
    let off = 0;
    while (buf.length - off >= 4) {
      const len = buf.readUInt32BE(off);
      if (buf.length - off - 4 < len) break;
      onFrame(buf.subarray(off + 4, off + 4 + len));
      off += 4 + len;
    }
    if (off < buf.length) rest = buf.subarray(off);
  };
}
