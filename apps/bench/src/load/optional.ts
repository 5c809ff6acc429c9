/**
 * Packages the bench uses only for some scenarios, loaded on demand: a package that is not built yet
 * (its `dist` missing) makes those cases "skipped", not the whole bench fail. The shapes below are the
 * few exports used, so the bench also type-checks before those packages exist.
 */
export type OptionalPackage = 'balancer' | 'middleware' | 'resilience' | 'registry';

const cache = new Map<OptionalPackage, Promise<Record<string, unknown> | undefined>>();

/** The package's module, or `undefined` when it cannot be loaded. */
export function loadOptional(name: OptionalPackage): Promise<Record<string, unknown> | undefined> {
  let p = cache.get(name);
  if (p === undefined) {
    // The specifier is computed so bundlers leave the import to run time.
    const specifier = `@mini-rpc/${name}`;
    p = import(specifier).then(
      (m: Record<string, unknown>) => m,
      () => undefined,
    );
    cache.set(name, p);
  }
  return p;
}

/** The first of `names` that fails to load, or `undefined` when all load. */
export async function missingPackage(
  names: readonly OptionalPackage[],
): Promise<OptionalPackage | undefined> {
  for (const name of names) if ((await loadOptional(name)) === undefined) return name;
  return undefined;
}

/** The export `key` of a loaded optional package as a function; throws when it is not one. */
export async function optionalFn<T extends (...args: never[]) => unknown>(
  name: OptionalPackage,
  key: string,
): Promise<T> {
  const mod = await loadOptional(name);
  const fn = mod?.[key];
  if (typeof fn !== 'function') throw new Error(`@mini-rpc/${name} has no export ${key} (not built yet?)`);
  return fn as T;
}
