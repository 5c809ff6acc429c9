import { randomBytes } from 'node:crypto';
import { createClient } from '@mini-rpc/client';
import { bearer, defaultChain, hmacTokens, serveMetrics, signHmacToken } from '@mini-rpc/middleware';
import { codeName, MetadataKey, RpcError } from '@mini-rpc/protocol';
import { createServer } from '@mini-rpc/server';
import { pino } from 'pino';
import { Greeter } from './greeter.js';
import { createLogSink } from './log-sink.js';
import { describeError, heading, say } from './print.js';

const AUTHORISED_CALLS = 20;
const BURST = 100;

/**
 * Section 4: the server runs the recommended middleware chain (recovery → logging (pino) → metrics → auth →
 * rate limit); the client sends a signed token. Calls without a valid token and a burst over the rate limit
 * are refused; the app scrapes its own /metrics and compares the counters with the calls it made.
 */
export async function observability(): Promise<void> {
  heading('4. Observability and security');
  const secret = randomBytes(32);
  const sink = createLogSink(1);
  // Compact lines for the tour (no pid, hostname or time); successes are sampled, failures always logged.
  const logger = pino({ level: 'info', base: null, timestamp: false }, sink);
  const server = createServer({
    logger,
    middleware: defaultChain({
      logger,
      logging: { sampleRate: 0.05 },
      auth: { verify: hmacTokens({ secret }) },
      rateLimit: { rate: 50, burst: 30, by: 'caller' },
    }),
  });
  server.addService(new Greeter('secure'));
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  const metrics = await serveMetrics({ port: 0, host: '127.0.0.1' });
  const token = signHmacToken({ subject: 'helloworld', ttlMs: 60_000 }, secret);
  const forgedToken = signHmacToken({ subject: 'mallory', ttlMs: 60_000 }, randomBytes(32));
  const client = createClient({ address, interceptors: [bearer(token)] });
  const anonymous = createClient({ address });
  const forger = createClient({ address, interceptors: [bearer(forgedToken)] });
  const made = new Map<string, number>();
  const call = async (from: typeof client, name: string): Promise<unknown> => {
    try {
      const reply = await from.call('Greeter', 'hello', { name });
      count(made, 'OK');
      return reply;
    } catch (err) {
      count(made, err instanceof RpcError ? codeName(err.code) : 'Unknown');
      return err;
    }
  };
  try {
    say(
      `server: middleware recovery -> logging (pino, successes sampled 5%) -> metrics -> auth (HMAC token) -> rate limit (50/s, burst 30)`,
    );
    say(`metrics served on ${metrics.url}`);
    for (let i = 0; i < AUTHORISED_CALLS; i++) await call(client, `caller ${i}`);
    say(`${AUTHORISED_CALLS} calls with a valid bearer token, one after another: ${made.get('OK') ?? 0} OK`);
    say(`no token              -> ${describeError(await call(anonymous, 'anonymous'))}`);
    say(`token signed elsewhere -> ${describeError(await call(forger, 'mallory'))}`);
    const before = { ...Object.fromEntries(made) };
    const burst = await Promise.all(Array.from({ length: BURST }, (_, i) => call(client, `burst ${i}`)));
    const refused = burst.filter((r) => r instanceof RpcError);
    const retryAfter =
      refused[0] instanceof RpcError ? refused[0].metadata[MetadataKey.RetryAfter] : undefined;
    say(
      `a burst of ${BURST} calls at once: ${(made.get('OK') ?? 0) - (before.OK ?? 0)} OK, ` +
        `${refused.length} refused with ${refused[0] instanceof RpcError ? codeName(refused[0].code) : 'nothing'}` +
        (retryAfter === undefined ? '' : ` (retry after ${retryAfter} ms)`),
    );
    if (sink.hidden > 0) say(`(${sink.hidden} more log lines not shown: one of each kind is enough here)`);

    say('calls this app made, by outcome:');
    for (const [code, n] of [...made].sort()) say(`  made Greeter.hello code=${code} ${n}`);
    const response = await fetch(metrics.url);
    const text = await response.text();
    const lines = text.split('\n').filter((l) => l.startsWith('mini_rpc_server_requests_total{'));
    say(`scraped ${metrics.url} (HTTP ${response.status}):`);
    for (const l of lines) say(`  ${l}`);
    const scraped = new Map(
      lines.map((l) => [/code="(\w+)"/.exec(l)?.[1] ?? '', Number(l.slice(l.lastIndexOf(' ') + 1))]),
    );
    const match = made.size === scraped.size && [...made].every(([code, n]) => scraped.get(code) === n);
    say(`the server's counters match the calls made: ${match ? 'yes' : 'NO'}`);
  } finally {
    await Promise.all([client.close(), anonymous.close(), forger.close()]);
    await server.close({ graceMs: 1_000 });
    await metrics.close();
  }
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}
