/** Parses `host:port` (IPv6 as `[::1]:port`). */
export function parseAddress(address: string | { host: string; port: number }): {
  host: string;
  port: number;
} {
  if (typeof address !== 'string') return address;
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(address);
  if (m === null || Number(m[2]) > 65_535)
    throw new TypeError(`invalid address '${address}': expected host:port`);
  return { host: m[1] as string, port: Number(m[2]) };
}
