/** The client side of one stack, as the load loops drive it: one echo call at a time, any number in flight. */
export interface Driver {
  /** What each call sends (the echo check compares the answer with it). */
  readonly sent: unknown;
  /** Makes one call; resolves with what the server echoed. */
  call(): Promise<unknown>;
  /** Stack-specific counters read at the end of the window (mini-rpc: pool stats). */
  stats?(): Record<string, number>;
  close(): Promise<void>;
}

/** A short, stable label for a failed call: the stack's status code, else the error's name. */
export function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number' || typeof code === 'string') return String(code);
    const name = (err as { name?: unknown }).name;
    if (typeof name === 'string') return name;
  }
  return 'unknown';
}
