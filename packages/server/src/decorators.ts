/** Options of a method exposed by {@link method}. */
export interface MethodOptions {
  /** Name on the wire; default the method's own name. */
  name?: string;
  /** The method may safely run more than once (clients may retry it after a connection loss). */
  idempotent?: boolean;
}

/** Options of a service declared by {@link service}. */
export interface ServiceOptions {
  /** Default metadata published with the service's instances in a registry. */
  metadata?: Record<string, string>;
}

interface DecoratorStore {
  services: WeakMap<object, { name: string; options: ServiceOptions }>;
  methods: WeakMap<object, { key: string; options: MethodOptions }>;
}

// One store per process, shared by every copy of this package (ESM and CJS builds), so a class decorated
// with one copy is understood by another.
const STORE_KEY = Symbol.for('@mini-rpc/server/decorators');
const globalStore = globalThis as unknown as Record<symbol, DecoratorStore | undefined>;
const store: DecoratorStore = globalStore[STORE_KEY] ?? { services: new WeakMap(), methods: new WeakMap() };
globalStore[STORE_KEY] = store;

/**
 * Class decorator (TC39 standard decorators): declares a class as the service `name`.
 * Without any {@link method} decorator in the class, all its public prototype methods are exposed.
 *
 * @example
 * ```ts
 * @service('Arith')
 * class Arith {
 *   @method() add({ a, b }: { a: number; b: number }) { return a + b; }
 * }
 * server.addService(new Arith());
 * ```
 */
export function service(name: string, options: ServiceOptions = {}) {
  return <T extends abstract new (...args: never[]) => unknown>(
    value: T,
    _context: ClassDecoratorContext<T>,
  ): void => {
    store.services.set(value, { name, options });
  };
}

/** Method decorator: exposes the method as an RPC handler `(args, ctx) => result`. */
export function method(options: MethodOptions = {}) {
  return <F extends (...args: never[]) => unknown>(value: F, context: ClassMethodDecoratorContext): void => {
    if (context.private || context.static)
      throw new TypeError('@method() applies to public instance methods');
    store.methods.set(value, { key: String(context.name), options });
  };
}

/** What the decorators recorded for a class, if anything. */
export function decoratedService(ctor: object): { name: string; options: ServiceOptions } | undefined {
  return store.services.get(ctor);
}

/** What `@method()` recorded for a function, if anything. */
export function decoratedMethod(fn: object): { key: string; options: MethodOptions } | undefined {
  return store.methods.get(fn);
}
