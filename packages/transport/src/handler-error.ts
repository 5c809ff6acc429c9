import { Code, RpcError, thrownText } from '@mini-rpc/protocol';

/**
 * What a callback of the transport's owner threw (`onFrame`, `onEnd`, `onDrain`, `onSocket`), as the
 * `Internal` error that fails that one connection: `<owner> threw: <message>`, the thrown value as `cause`.
 * Callbacks run inside socket events, where an escaping error would be an uncaught exception and end the
 * process, with every other connection on it. Never throws.
 */
export function handlerError(owner: string, thrown: unknown): RpcError {
  return new RpcError(Code.Internal, `${owner} threw: ${thrownText(thrown)}`, {
    cause: thrown,
  });
}

/**
 * Reports an error when there is no one left to tell (an `onClose` or `onError` threw, a listener has no
 * `onError`): as a `MiniRpcListenerWarning` process warning, `mini-rpc transport: <message>`, with the
 * error's cause (or the error) as `cause`, the shape the client uses for its listeners. Never throws.
 */
export function reportWarning(error: Error): void {
  try {
    const message = error instanceof RpcError ? error.rawMessage : error.message;
    const warning = new Error(`mini-rpc transport: ${message}`, { cause: error.cause ?? error });
    warning.name = 'MiniRpcListenerWarning';
    process.emitWarning(warning);
  } catch {
    // A patched emitWarning, an error whose getters throw: nowhere left to report that cannot break the
    // socket event.
  }
}
