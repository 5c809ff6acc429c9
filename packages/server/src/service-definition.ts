import type { ServerMiddleware } from '@mini-rpc/protocol';
import type { MethodOptions, ServiceOptions } from './decorators.js';
import { decoratedMethod, decoratedService } from './decorators.js';

/** A handler as the server calls it. */
export type Handler = (args: unknown, ctx: never) => unknown;

/** One exposed method, resolved once at registration. */
export interface MethodDefinition {
  readonly service: string;
  readonly name: string;
  readonly idempotent: boolean;
  readonly handler: Handler;
  readonly target: object;
  /** Middleware for this method only (after global and service middleware). */
  readonly middleware: ServerMiddleware[];
}

/** A registered service and its methods. */
export interface ServiceDefinition {
  readonly name: string;
  readonly options: ServiceOptions;
  readonly methods: Map<string, MethodDefinition>;
  readonly middleware: ServerMiddleware[];
}

/** Options of `server.addService`. */
export interface AddServiceOptions extends ServiceOptions {
  /** Service name; required for undecorated objects, overrides `@service` otherwise. */
  name?: string;
  /** Per-method options for undecorated implementations, by method name. */
  methods?: Record<string, MethodOptions>;
}

const OBJECT_PROTO_KEYS = new Set(Object.getOwnPropertyNames(Object.prototype));

function collectMethods(impl: object): Map<string, Handler> {
  const found = new Map<string, Handler>();
  // Own properties first (plain objects), then the prototype chain (class instances), stopping at Object.
  for (let o: object | null = impl; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) {
      if (key === 'constructor' || found.has(key)) continue;
      const desc = Object.getOwnPropertyDescriptor(o, key);
      if (desc === undefined || typeof desc.value !== 'function') continue;
      if (key.startsWith('_') || OBJECT_PROTO_KEYS.has(key)) {
        // Never exposed. A @method() on one is a mistake to report: left out silently, it could leave the
        // class without any marked method, and then every public method would be exposed instead.
        if (decoratedMethod(desc.value as Handler) !== undefined)
          throw new TypeError(
            `addService: @method() on ${key} cannot be exposed (names starting with _ and those of Object.prototype never are)`,
          );
        continue;
      }
      found.set(key, desc.value as Handler);
    }
  }
  return found;
}

/**
 * Resolves the service name and methods of an implementation: a `@service` class instance (its `@method`s,
 * or all public methods when none is decorated), or any object or class instance with `options.name`
 * (its own and prototype methods, reflection-style; names starting with `_` stay private).
 */
export function defineService(impl: object, options: AddServiceOptions = {}): ServiceDefinition {
  const decorated = decoratedService(impl.constructor);
  const name = options.name ?? decorated?.name;
  if (name === undefined || name === '') {
    throw new TypeError(
      'addService: give the service a name (options.name) or decorate its class with @service(name)',
    );
  }
  const all = collectMethods(impl);
  const marked = [...all].filter(([, fn]) => decoratedMethod(fn) !== undefined);
  const exposed = marked.length > 0 ? marked : [...all];
  const methods = new Map<string, MethodDefinition>();
  for (const [key, fn] of exposed) {
    const deco = decoratedMethod(fn)?.options ?? {};
    const opts = { ...deco, ...options.methods?.[key] };
    const wire = opts.name ?? key;
    methods.set(wire, {
      service: name,
      name: wire,
      idempotent: opts.idempotent ?? false,
      handler: fn,
      target: impl,
      middleware: [],
    });
  }
  if (methods.size === 0) throw new TypeError(`addService: service ${name} has no methods`);
  const merged: ServiceOptions = { metadata: { ...decorated?.options.metadata, ...options.metadata } };
  return { name, options: merged, methods, middleware: [] };
}
