import { Code, RpcError } from '@mini-rpc/protocol';
import { describe, expect, it } from 'vitest';
import { toRpcError } from './index.js';

const errno = (code: string, message = `${code} happened`): NodeJS.ErrnoException =>
  Object.assign(new Error(message), { code });

describe('toRpcError', () => {
  it.each([
    'ECONNREFUSED',
    'ECONNRESET',
    'ECONNABORTED',
    'EPIPE',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'ENOTFOUND',
    'EAI_AGAIN',
    'ERR_STREAM_DESTROYED',
    'ERR_STREAM_WRITE_AFTER_END',
  ])('%s → Unavailable, naming the errno and keeping the cause', (code) => {
    const cause = errno(code);
    const error = toRpcError(cause, 'connect 127.0.0.1:1');
    expect(error).toBeInstanceOf(RpcError);
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toBe(`connect 127.0.0.1:1: ${code}`);
    expect(error.cause).toBe(cause);
  });

  it('ETIMEDOUT → Unavailable (the peer timed out, not the call)', () => {
    const error = toRpcError(errno('ETIMEDOUT'));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toBe('connection: timed out (ETIMEDOUT)');
  });

  it.each([
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'CERT_HAS_EXPIRED',
    'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE',
    'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
    'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
  ])('certificate failure %s → Unauthenticated', (code) => {
    const error = toRpcError(errno(code), 'TLS handshake');
    expect(error.code).toBe(Code.Unauthenticated);
    expect(error.rawMessage).toBe(`TLS handshake: TLS certificate rejected (${code})`);
  });

  it('other TLS failures → Unavailable', () => {
    const error = toRpcError(errno('ERR_SSL_WRONG_VERSION_NUMBER'));
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toBe('connection: TLS failure (ERR_SSL_WRONG_VERSION_NUMBER)');
  });

  it('unknown errors → Unavailable with their message; non-errors too', () => {
    expect(toRpcError(errno('EWHATEVER', 'odd failure')).rawMessage).toBe('connection: odd failure');
    expect(toRpcError(new Error('plain')).code).toBe(Code.Unavailable);
    const fromString = toRpcError('just a string', 'listen');
    expect(fromString.code).toBe(Code.Unavailable);
    expect(fromString.rawMessage).toBe('listen: just a string');
    expect(toRpcError(undefined).code).toBe(Code.Unavailable);
  });

  it('an RpcError passes through unchanged', () => {
    const original = new RpcError(Code.Cancelled, 'stop');
    expect(toRpcError(original)).toBe(original);
  });
});
