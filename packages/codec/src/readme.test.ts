import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import * as codecPackage from './index.js';
import {
  CodecError,
  CodecId,
  codecFor,
  createCodecRegistry,
  createProtobufCodec,
  msgpackCodec,
} from './index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const self = readFileSync(new URL(import.meta.url), 'utf8');

/** The ```ts block under "## Usage": the names it imports, and the code after the import. */
function usageSnippet(): { imports: string[]; body: string } {
  const usage = readme.slice(readme.indexOf('## Usage'));
  const block = /```ts\n([\s\S]*?)```/.exec(usage)?.[1] ?? '';
  const statement = /^import \{([^}]*)\} from '@mini-rpc\/codec';\n/.exec(block);
  const imports = (statement?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return { imports, body: block.slice(statement?.[0].length ?? 0).trim() };
}

/** The code between the readme markers below, dedented. */
function testedSnippet(): string {
  const start = self.indexOf('// readme:start\n') + '// readme:start\n'.length;
  const end = self.lastIndexOf('// readme:end');
  return self
    .slice(start, end)
    .split('\n')
    .map((line) => line.replace(/^ {4}/, ''))
    .join('\n')
    .trim();
}

describe('README', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('shows exactly the code this test runs, importing only public names', () => {
    const { imports, body } = usageSnippet();
    expect(body).toBe(testedSnippet());
    expect(imports.length).toBeGreaterThan(0);
    for (const name of imports) expect(codecPackage).toHaveProperty(name);
  });

  it('runs the usage snippet', () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    // readme:start
    // Schemaless codecs: any structured value in, the same value out.
    const bytes = msgpackCodec.encode({ user: 'ada', tags: ['x'], admin: false });
    const value = codecFor(CodecId.MessagePack).decode(bytes); // { user: 'ada', tags: ['x'], admin: false }

    // Protobuf picks the message type per method and direction.
    const protobuf = createProtobufCodec({
      proto: 'syntax = "proto3"; message Hello { string name = 1; } message Reply { string text = 1; }',
      methods: { 'Greeter.hello': { request: 'Hello', response: 'Reply' } },
    });
    const request = { service: 'Greeter', method: 'hello', kind: 'request' } as const;
    const codecs = createCodecRegistry([msgpackCodec, protobuf]);
    const args = codecs.get(CodecId.Protobuf).decode(protobuf.encode({ name: 'Ada' }, request), request);

    // Bytes a codec cannot read throw a CodecError with a stable code, never a library exception.
    try {
      msgpackCodec.decode(new Uint8Array([0x82, 0xa1]));
    } catch (err) {
      if (err instanceof CodecError) console.log(err.code); // 'decode_failed'
    }
    // readme:end
    expect(value).toEqual({ user: 'ada', tags: ['x'], admin: false });
    expect(args).toEqual({ name: 'Ada' });
    expect(log).toHaveBeenCalledWith('decode_failed');
  });
});
