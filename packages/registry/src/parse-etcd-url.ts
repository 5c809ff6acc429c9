import { Code, RpcError } from '@mini-rpc/protocol';

const SCHEMES: Readonly<Record<string, string>> = {
  'etcd:': 'http:',
  'etcds:': 'https:',
  'http:': 'http:',
  'https:': 'https:',
};

function parseOne(endpoint: string): string {
  const text = endpoint.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `etcd://${text}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new RpcError(Code.InvalidArgument, `invalid etcd endpoint "${endpoint}"`);
  }
  const scheme = SCHEMES[url.protocol];
  if (scheme === undefined)
    throw new RpcError(
      Code.InvalidArgument,
      `invalid etcd endpoint "${endpoint}": unknown scheme ${url.protocol}`,
    );
  if (url.hostname === '' || url.port === '')
    throw new RpcError(
      Code.InvalidArgument,
      `invalid etcd endpoint "${endpoint}": host and port are required`,
    );
  return `${scheme}//${url.host}`;
}

/**
 * Turns etcd endpoints written as `etcd://host:port` (TLS: `etcds://`), `http(s)://host:port` or bare
 * `host:port`, one or several separated by commas, into the `http(s)://host:port` list the etcd3 client takes.
 * Paths, users and query strings are ignored. Throws `RpcError(InvalidArgument)` for an unknown scheme or a
 * missing host or port.
 *
 * @example
 * ```ts
 * parseEtcdUrl('etcd://10.0.0.1:2379,10.0.0.2:2379'); // ['http://10.0.0.1:2379', 'http://10.0.0.2:2379']
 * ```
 */
export function parseEtcdUrl(url: string): string[] {
  // A comma list may repeat the scheme on every member or give it once, at the front.
  const match = /^([a-z][a-z0-9+.-]*:\/\/)/i.exec(url.trim());
  const scheme = match?.[1] ?? '';
  const parts = url
    .trim()
    .slice(scheme.length)
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '');
  if (parts.length === 0) throw new RpcError(Code.InvalidArgument, `invalid etcd endpoint "${url}"`);
  return parts.map((part) => parseOne(/:\/\//.test(part) ? part : `${scheme}${part}`));
}
