import type { OnReadOpts } from 'node:net';

/** Bytes of one slab. */
export const SLAB_BYTES = 256 * 1024;
/** Each read is offered at least this much room, as Node offers by default; less left starts a new slab. */
export const MIN_READ_ROOM = 64 * 1024;

/**
 * Where a client socket reads into (`onread`): successive reads fill one slab, each after the last, and a
 * slab is never written twice, so the chunks it hands out (and the payload views into them) stay valid.
 *
 * Why: without `onread`, Node gives every read an ArrayBuffer of its own (a 64 KiB allocation, a copy into
 * one of the read's size, a free). At 36,000 reads/s the scavenger spent half of each pause (~0.28 of
 * 0.57 ms) freeing them (`--trace-gc-nvp` sweep_array_buffers, apps/bench open loop, issue #7). With a
 * slab, small reads share one ArrayBuffer per 192 KiB or more. The price: a view kept from a chunk keeps
 * its whole slab (256 KiB) reachable.
 */
export class ReadSlab {
  private slab: Buffer = Buffer.allocUnsafeSlow(SLAB_BYTES);
  private offset = 0;
  private room: Buffer = this.slab;
  /** Where chunks go; chunks read before it is set wait in `early`. */
  private sink: ((chunk: Buffer) => void) | undefined;
  private early: Buffer[] = [];

  /** The socket option: reads land in the room handed out last, then the next room is handed out. */
  readonly onread: OnReadOpts = {
    buffer: () => this.nextRoom(),
    callback: (n: number) => {
      this.received(n);
      return true; // keep reading, as a socket in flowing mode does
    },
  };

  /** Starts delivering chunks to `sink` (those read before, first). */
  bind(sink: (chunk: Buffer) => void): void {
    this.sink = sink;
    const early = this.early;
    this.early = [];
    for (const chunk of early) sink(chunk);
  }

  /** The next read's room: the rest of the slab, or a fresh slab when less than MIN_READ_ROOM is left. */
  private nextRoom(): Buffer {
    if (SLAB_BYTES - this.offset < MIN_READ_ROOM) {
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.offset = 0;
    }
    this.room = this.offset === 0 ? this.slab : this.slab.subarray(this.offset);
    return this.room;
  }

  /** `n` bytes were read into the current room: they become a chunk, and the room moves past them. */
  private received(n: number): void {
    const chunk = this.room.subarray(0, n);
    this.offset += n;
    if (this.sink !== undefined) this.sink(chunk);
    else this.early.push(chunk);
  }
}
