import type { ServerContext } from '@mini-rpc/protocol';
import { Code, RpcError } from '@mini-rpc/protocol';
import { method, service } from '@mini-rpc/server';

/** The service most tests call. */
@service('Arith')
export class Arith {
  calls = 0;

  @method({ idempotent: true })
  add({ a, b }: { a: number; b: number }): number {
    this.calls++;
    return a + b;
  }

  @method()
  async slowEcho({ value, ms }: { value: string; ms: number }, ctx: ServerContext): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(resolve, ms);
      ctx.signal.addEventListener('abort', () => {
        clearTimeout(t);
        reject(ctx.signal.reason);
      });
    });
    return value;
  }

  @method()
  fail({ kind }: { kind: 'rpc' | 'plain' | 'reject' }): never | Promise<never> {
    if (kind === 'rpc')
      throw new RpcError(Code.FailedPrecondition, 'not ready', { details: { hint: 'later' } });
    if (kind === 'reject') return Promise.reject(new Error('async boom'));
    throw new Error('boom');
  }

  helper(): string {
    return 'not exposed: no @method';
  }
}
