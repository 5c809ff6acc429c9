import { Pool } from 'undici';
import type { ClientSpec } from '../case-spec.js';
import { payloadBytes } from '../payload.js';
import type { Driver } from './driver.js';

/**
 * HTTP/1.1 keep-alive through an undici Pool: `POST /echo` with the payload as body, the echoed body read
 * back in full. HTTP/1.1 carries one request per connection at a time, so the pool has `spec.connections`.
 */
export async function createHttpDriver(spec: ClientSpec): Promise<Driver> {
  const pool = new Pool(`http://127.0.0.1:${spec.ports[0]}`, {
    connections: spec.connections ?? 1,
    pipelining: 1,
    keepAliveTimeout: 60_000,
  });
  const payload = payloadBytes(spec.size);
  const headers = { 'content-type': 'application/octet-stream' };
  return {
    sent: payload,
    call: async () => {
      const res = await pool.request({ path: '/echo', method: 'POST', body: payload, headers });
      const body = Buffer.from(await res.body.arrayBuffer());
      if (res.statusCode !== 200)
        throw Object.assign(new Error(`HTTP ${res.statusCode}`), { code: res.statusCode });
      return body;
    },
    close: () => pool.destroy(),
  };
}
