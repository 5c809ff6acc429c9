/**
 * Parses `host:port` (IPv6 as `[::1]:port`); `{ host, port }` objects are checked and passed through.
 * Throws TypeError unless the host is a non-empty string and the port an integer in 1…65535 (Node's
 * connect would take an empty host for `localhost`, and port 0 reaches nothing).
 */
export function parseAddress(address: string | { host: string; port: number }): {
  host: string;
  port: number;
} {
  if (typeof address !== 'string') {
    if (addressProblem(address?.host, address?.port) === undefined) return address;
    throw new TypeError(`invalid address ${describe(address)}: expected { host, port }`);
  }
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (m === null || addressProblem(m[1], Number(m[2])) !== undefined)
    throw new TypeError(`invalid address '${address}': expected host:port`);
  return { host: m[1] as string, port: Number(m[2]) };
}

/** What is wrong with a host and port to connect to, or undefined when nothing is. */
export function addressProblem(host: unknown, port: unknown): string | undefined {
  if (typeof host !== 'string' || host === '') return `host ${describe(host)} is not a host name or address`;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535)
    return `port ${describe(port)} is not an integer in 1…65535`;
  return undefined;
}

function describe(value: unknown): string {
  try {
    return typeof value === 'string'
      ? `'${value}'`
      : typeof value === 'object'
        ? JSON.stringify(value)
        : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
