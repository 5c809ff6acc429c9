import type { OnReadOpts } from 'node:net';

/** A connection's first slab: a connection that reads little (most of a pool, idle) holds no more. */
export const FIRST_SLAB_BYTES = 64 * 1024;
/** Slabs double, from the first, up to this size as a connection keeps reading. */
export const SLAB_BYTES = 256 * 1024;
/** Room offered to each read in a full-size slab, as Node offers by default; a quarter of the slab. */
export const MIN_READ_ROOM = SLAB_BYTES / 4;

/**
 * Where a client socket reads into (`onread`): successive reads fill one slab, each after the last, and a
 * slab is never written twice, so the chunks it hands out (and the payload views into them) stay valid.
 * Each read is offered the rest of the slab, and at least a quarter of it: with less left, a new slab
 * starts, twice the size of the last up to {@link SLAB_BYTES} (64 → 128 → 256 KiB, and 16 → 32 → 64 KiB of
 * least room).
 *
 * Why: without `onread`, Node gives every read an ArrayBuffer of its own (a 64 KiB allocation, a copy into
 * one of the read's size, a free). At 36,000 reads/s the scavenger spent half of each pause (~0.28 of
 * 0.57 ms) freeing them (`--trace-gc-nvp` sweep_array_buffers, apps/bench open loop, issue #7). With a
 * slab, small reads share one ArrayBuffer (per 48 KiB or more in the first slab, 192 KiB once grown).
 * Why the small first slab: a slab stays reserved as long as its connection lives, and counts in V8's
 * external memory; 200 idle connections held 51 MB of it at 256 KiB each. The price: a view kept from a
 * chunk keeps its whole slab reachable.
 */
export class ReadSlab {
  private slab: Buffer = Buffer.allocUnsafeSlow(FIRST_SLAB_BYTES);
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

  /** The next read's room: the rest of the slab, or a fresh (larger) slab when less than a quarter is left. */
  private nextRoom(): Buffer {
    const size = this.slab.length;
    if (size - this.offset < size >> 2) {
      this.slab = Buffer.allocUnsafeSlow(Math.min(size * 2, SLAB_BYTES));
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
