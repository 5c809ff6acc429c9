const INITIAL_SLOTS = 64;
const MAX_SLOTS = 1 << 16;

/**
 * A map from request id to the call waiting on it, with the Map methods a connection needs. Ids index a
 * power-of-two ring of slots by their low bits; an id whose slot is taken (a long call still waiting when
 * the ids come round again) goes to a plain Map. Both the client (calls awaiting a response) and the
 * server (calls running) keep one per connection.
 *
 * Why not a `Map`: under constant set/delete churn a Map rebuilds its hash table every few dozen calls. The
 * dropped tables have often lived long enough to be promoted, and a dead table in the old generation still
 * points at the calls it held; the scavenger must treat those as live, promotes them and all they point at.
 * In the load bench (apps/bench, issue #7) that kept ~2 MB alive per scavenge on the client: 2–5 ms pauses,
 * a mark-compact every ~150 ms, p99 2.2 ms at 64 calls in flight. Here a slot is cleared when its call
 * ends and the slot array is replaced only when it grows (and cleared first), so nothing dead points at a
 * call.
 */
export class RequestMap<T> {
  private ids: number[] = new Array<number>(INITIAL_SLOTS).fill(-1);
  private slots: (T | undefined)[] = new Array<T | undefined>(INITIAL_SLOTS).fill(undefined);
  private mask = INITIAL_SLOTS - 1;
  private overflow: Map<number, T> | undefined;
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(id: number): T | undefined {
    // `&` takes the low 32 bits of any integer id up to 2^53 exactly (ToInt32 is modular).
    const i = id & this.mask;
    if (this.ids[i] === id) return this.slots[i];
    return this.overflow?.get(id);
  }

  has(id: number): boolean {
    return this.ids[id & this.mask] === id || this.overflow?.has(id) === true;
  }

  /** Sets the entry of `id` (replacing one already there). */
  set(id: number, value: T): this {
    const i = id & this.mask;
    if (this.ids[i] === id) {
      this.slots[i] = value;
      return this;
    }
    if (this.overflow?.has(id) === true) {
      this.overflow.set(id, value);
      return this;
    }
    if (this.count >= this.slots.length >>> 1 && this.slots.length < MAX_SLOTS) {
      this.grow();
      return this.set(id, value);
    }
    if (this.ids[i] === -1) {
      this.ids[i] = id;
      this.slots[i] = value;
    } else {
      this.overflow ??= new Map();
      this.overflow.set(id, value);
    }
    this.count++;
    return this;
  }

  /** Removes the entry of `id`; false when there was none. */
  delete(id: number): boolean {
    const i = id & this.mask;
    if (this.ids[i] === id) {
      this.ids[i] = -1;
      this.slots[i] = undefined;
      this.count--;
      return true;
    }
    if (this.overflow?.delete(id) === true) {
      this.count--;
      return true;
    }
    return false;
  }

  /** A snapshot of the entries: callers may settle (and so delete) calls while they walk it. */
  values(): T[] {
    const out: T[] = [];
    if (this.count === 0) return out;
    const { ids, slots } = this;
    for (let i = 0; i < ids.length; i++) if (ids[i] !== -1) out.push(slots[i] as T);
    if (this.overflow !== undefined) for (const value of this.overflow.values()) out.push(value);
    return out;
  }

  /** Calls `fn` for each entry without a snapshot; `fn` may delete entries, and must not add any. */
  forEach(fn: (value: T) => void): void {
    if (this.count === 0) return;
    const { ids, slots } = this;
    for (let i = 0; i < ids.length; i++) if (ids[i] !== -1) fn(slots[i] as T);
    if (this.overflow !== undefined) for (const value of [...this.overflow.values()]) fn(value);
  }

  clear(): void {
    this.ids.fill(-1);
    this.slots.fill(undefined);
    this.overflow = undefined;
    this.count = 0;
  }

  private grow(): void {
    const entries: [number, T][] = [];
    for (let i = 0; i < this.ids.length; i++) {
      const id = this.ids[i] as number;
      if (id !== -1) entries.push([id, this.slots[i] as T]);
    }
    if (this.overflow !== undefined) for (const entry of this.overflow) entries.push(entry);
    // The dropped array is cleared first: it must not keep calls alive (see above).
    this.clear();
    const size = this.slots.length * 2;
    this.ids = new Array<number>(size).fill(-1);
    this.slots = new Array<T | undefined>(size).fill(undefined);
    this.mask = size - 1;
    for (const [id, value] of entries) this.set(id, value);
  }
}
