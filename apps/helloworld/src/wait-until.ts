/**
 * Polls `condition` every 5 ms until it holds or `timeoutMs` passes; resolves with whether it held.
 * Bounded in time, so a missed condition shows up as a wrong number in the output, not a hang.
 */
export async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > until) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}
