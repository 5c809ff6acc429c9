import { readFileSync } from 'node:fs';
import { expect, it, vi } from 'vitest';
import { CodecId, createFrameDecoder, encodeFrame, FrameType, MetadataKey } from './index.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const SELF = readFileSync(new URL(import.meta.url), 'utf8');

it('README snippet runs and prints what its comment says', () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  try {
    // #region readme
    const bytes = encodeFrame({
      type: FrameType.Request,
      codec: CodecId.Json,
      id: 1,
      metadata: { [MetadataKey.Service]: 'Arith', [MetadataKey.Method]: 'add' },
      payload: new TextEncoder().encode('{"a":1,"b":2}'),
    });

    const decoder = createFrameDecoder((frame) => {
      console.log(frame.metadata[MetadataKey.Method], new TextDecoder().decode(frame.payload)); // add {"a":1,"b":2}
    });
    decoder.push(bytes.subarray(0, 10)); // any split of the stream gives the same frames
    decoder.push(bytes.subarray(10));
    decoder.end(); // throws ProtocolError('truncated') if the stream stopped inside a frame
    // #endregion readme
    expect(log.mock.calls).toEqual([['add', '{"a":1,"b":2}']]);
  } finally {
    log.mockRestore();
  }
});

it('README shows exactly the snippet this test runs', () => {
  const region = /\/\/ #region readme\n([\s\S]*?)\n\s*\/\/ #endregion readme/.exec(SELF)?.[1] ?? '';
  const body = region.replace(/^ {4}/gm, '');
  const snippet = /```ts\n([\s\S]*?)\n```/.exec(README)?.[1] ?? '';
  const [importLine, ...rest] = snippet.split('\n');
  expect(importLine).toBe(
    "import { CodecId, createFrameDecoder, encodeFrame, FrameType, MetadataKey } from '@mini-rpc/protocol';",
  );
  expect(rest.join('\n').trim()).toBe(body.trim());
});
