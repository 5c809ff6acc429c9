import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** PEM material made at test time: nothing secret is committed. */
export interface TestPki {
  ca: string;
  serverKey: string;
  serverCert: string;
  clientKey: string;
  clientCert: string;
  /** A client certificate signed by a CA the server does not trust. */
  rogueKey: string;
  rogueCert: string;
}

/** A PEM key and the certificate for it. */
export interface KeyAndCert {
  key: string;
  cert: string;
}

/** The name a server certificate made here is valid for: the only address tests use, and its host name. */
const SERVER_NAMES = 'IP:127.0.0.1,DNS:localhost';

/** `openssl req` arguments for a new P-256 key without a passphrase. */
const NEW_EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

const ssl = (dir: string, args: string[]): void => {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
};

/** Runs `make` in a fresh temporary directory that is removed afterwards, whatever happens. */
function inTempDir<T>(make: (dir: string, read: (file: string) => string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'mini-rpc-pki-'));
  try {
    return make(dir, (file) => readFileSync(join(dir, file), 'utf8'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes `<name>.key` and a self-signed `<name>.crt` for `subject`, valid one day, into `dir`. */
function selfSign(dir: string, name: string, subject: string, extra: string[] = []): void {
  const out = ['-keyout', `${name}.key`, '-out', `${name}.crt`];
  ssl(dir, ['req', '-x509', ...NEW_EC_KEY, ...out, '-days', '1', '-subj', subject, ...extra]);
}

/** Writes `<name>.key` and a `<name>.crt` for `subject` signed by `<caName>`, with extensions `ext`. */
function issue(dir: string, name: string, caName: string, subject: string, ext: string): void {
  ssl(dir, ['req', ...NEW_EC_KEY, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  writeFileSync(join(dir, `${name}.ext`), ext);
  ssl(dir, [
    'x509',
    '-req',
    '-in',
    `${name}.csr`,
    '-CA',
    `${caName}.crt`,
    '-CAkey',
    `${caName}.key`,
    '-CAcreateserial',
    '-out',
    `${name}.crt`,
    '-days',
    '1',
    '-extfile',
    `${name}.ext`,
  ]);
}

/**
 * A self-signed server certificate for 127.0.0.1 and localhost, valid one day (made with `openssl`).
 * Throws if `openssl` is missing or fails.
 *
 * @example
 * const { key, cert } = createSelfSignedCert();
 * const listener = await listen({ tls: { key, cert }, onSocket });
 */
export function createSelfSignedCert(): KeyAndCert {
  return inTempDir((dir, read) => {
    selfSign(dir, 'server', '/CN=localhost', ['-addext', `subjectAltName=${SERVER_NAMES}`]);
    return { key: read('server.key'), cert: read('server.crt') };
  });
}

/**
 * Creates a CA, a server certificate for 127.0.0.1/localhost, a client certificate, and a rogue client
 * (made with `openssl`, valid one day). Throws if `openssl` is missing or fails.
 *
 * @example
 * const pki = createTestPki();
 * const tls = { key: pki.serverKey, cert: pki.serverCert, ca: pki.ca };
 */
export function createTestPki(): TestPki {
  return inTempDir((dir, read) => {
    for (const ca of ['ca', 'rogue-ca']) selfSign(dir, ca, `/CN=${ca}`);
    issue(
      dir,
      'server',
      'ca',
      '/CN=localhost',
      `subjectAltName=${SERVER_NAMES}\nextendedKeyUsage=serverAuth\n`,
    );
    issue(dir, 'client', 'ca', '/CN=trusted-client', 'extendedKeyUsage=clientAuth\n');
    issue(dir, 'rogue', 'rogue-ca', '/CN=rogue-client', 'extendedKeyUsage=clientAuth\n');
    return {
      ca: read('ca.crt'),
      serverKey: read('server.key'),
      serverCert: read('server.crt'),
      clientKey: read('client.key'),
      clientCert: read('client.crt'),
      rogueKey: read('rogue.key'),
      rogueCert: read('rogue.crt'),
    };
  });
}
