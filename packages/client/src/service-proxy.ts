import type { CallOptions } from './call-options.js';

type Method = (...args: never[]) => unknown;

/**
 * Names JavaScript reads on any object by itself (`await`, `JSON.stringify`, string and number coercion):
 * the proxy answers them with `undefined` instead of a remote method, so logging or awaiting a proxy calls
 * nothing. A remote method of one of these names is reached with `client.call()`.
 */
export const NOT_PROXIED: ReadonlySet<string> = new Set(['then', 'toJSON', 'toString', 'valueOf']);

type NotProxied = 'then' | 'toJSON' | 'toString' | 'valueOf';

/**
 * The client-side view of a server class `T`: each public method `(args, ctx) => R` becomes
 * `(args, options?) => Promise<Awaited<R>>`. Inferred with `import type` from the server's class, no
 * code generation. Names starting with `_` are not exposed, nor `then`, `toJSON`, `toString` and `valueOf`
 * (JavaScript reads them on its own; call such a method with `client.call()`).
 *
 * @example
 * ```ts
 * import type { Arith } from './arith.js';
 * const arith: ServiceProxy<Arith> = client.service<Arith>('Arith');
 * const sum = await arith.add({ a: 1, b: 2 }); // number
 * ```
 */
export type ServiceProxy<T> = {
  readonly [K in keyof T as K extends `_${string}` | NotProxied
    ? never
    : T[K] extends Method
      ? K
      : never]: T[K] extends (args: infer A, ...rest: never[]) => infer R
    ? undefined extends A
      ? (args?: A, options?: CallOptions) => Promise<Awaited<R>>
      : (args: A, options?: CallOptions) => Promise<Awaited<R>>
    : never;
};
