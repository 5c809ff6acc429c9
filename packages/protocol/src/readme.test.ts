import { expect, it, vi } from 'vitest';
import { readReadmeSnippet } from '../../../tooling/testing/readme-snippet.js';
import { CodecId, createFrameDecoder, encodeFrame, FrameType, MetadataKey } from './index.js';

const README = new URL('../README.md', import.meta.url);

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
  const { imports, snippet, region } = readReadmeSnippet(README, import.meta.url, 1);
  expect(imports).toEqual([
    "import { CodecId, createFrameDecoder, encodeFrame, FrameType, MetadataKey } from '@mini-rpc/protocol';",
  ]);
  expect(snippet).toBe(region);
});
