import { afterEach, describe, expect, it } from 'vitest';
import { killAll, run, startUntil } from './processes.js';

afterEach(killAll);

describe('two terminals: server.js, then client.js --address', () => {
  it('the client calls the server at the address it printed; SIGTERM stops the server gracefully', async () => {
    const server = await startUntil(
      'server.js',
      ['--port', '0', '--name', 'terminal-1'],
      /Greeter listening on (127\.0\.0\.1:\d+) /,
      10_000,
    );
    const address = server.match[1] as string;
    for (const codec of ['msgpack', 'json', 'protobuf']) {
      const client = await run(
        'client.js',
        ['--address', address, '--name', 'Test', '--codec', codec],
        15_000,
      );
      expect(client.stderr).toBe('');
      expect(client.code).toBe(0);
      expect(client.stdout).toContain(`hello -> "Hello, Test!" (from instance terminal-1, codec ${codec})`);
      expect(client.stdout).toContain('greetFormally -> "Good day, Dr. Test."');
      expect(client.stdout).toContain('greetFormally without a title -> InvalidArgument');
      expect(client.stdout).toMatch(/slowHello 2000 ms with a 100 ms timeout -> DeadlineExceeded/);
    }
    server.child.kill('SIGTERM');
    expect(await server.exited(10_000)).toBe(0);
    expect(server.output()).toMatch(/SIGTERM: shutting down gracefully[\s\S]*stopped/);
  });

  it('the client fails with Unavailable and exit code 1 when nothing listens', async () => {
    // A port that just served and closed is free and refuses connections.
    const server = await startUntil('server.js', [], /listening on (127\.0\.0\.1:\d+) /, 10_000);
    server.child.kill('SIGTERM');
    expect(await server.exited(10_000)).toBe(0);
    const client = await run('client.js', ['--address', server.match[1] as string], 15_000);
    expect(client.code).toBe(1);
    expect(client.stderr).toMatch(/call failed: Unavailable/);
  });

  it('main.js: --only runs one section; a wrong flag prints the usage and exits 2', async () => {
    const one = await run('main.js', ['--only', 'basics'], 20_000);
    expect(one.code).toBe(0);
    expect(one.stdout.split('\n').filter((l) => l.startsWith('== '))).toEqual([
      '== 1. One call, end to end ==',
    ]);
    const wrong = await run('main.js', ['--only', 'everything'], 20_000);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/unknown section 'everything'[\s\S]*usage: node dist\/main\.js/);
  });
});
