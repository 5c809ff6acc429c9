import type { Codec } from '@mini-rpc/codec';
import { msgpackCodec } from '@mini-rpc/codec';
import { describe, expect, it } from 'vitest';
import { orderMessage } from '../micro/message.js';
import { probeCodecRoundTrip } from './codec-probe.js';

const schema = { service: 'Echo', method: 'order', kind: 'request' } as const;
const quick = { timeMs: 60, warmupMs: 10 };

/** Spins until `us` microseconds have passed: a codec with a known least cost. */
function spin(us: number): void {
  const end = process.hrtime.bigint() + BigInt(us * 1000);
  while (process.hrtime.bigint() < end);
}

describe('probeCodecRoundTrip', () => {
  it('times encode and decode together: a codec costing at least 40 + 30 µs measures at least 70 µs', async () => {
    const slow: Codec = {
      id: msgpackCodec.id,
      name: 'slow',
      encode: (v, s) => {
        spin(40);
        return msgpackCodec.encode(v, s);
      },
      decode: (b, s) => {
        spin(30);
        return msgpackCodec.decode(b, s);
      },
    };
    const us = await probeCodecRoundTrip(slow, orderMessage(), schema, quick);
    expect(us).toBeGreaterThanOrEqual(70);
  });

  it('fails loudly when the codec throws, rather than timing the throw', async () => {
    const broken: Codec = {
      id: msgpackCodec.id,
      name: 'broken',
      encode: (v, s) => msgpackCodec.encode(v, s),
      decode: () => {
        throw new Error('bad bytes');
      },
    };
    await expect(probeCodecRoundTrip(broken, orderMessage(), schema, quick)).rejects.toThrow(/bad bytes/);
  });
});
