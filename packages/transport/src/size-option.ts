/**
 * A size or count option (`maxPayload`, `maxQueuedBytes`, `maxBatchFrames`, …): `fallback` when undefined,
 * else a number ≥ 0 (`Infinity`: no limit). NaN compares false with every size, so it would switch a limit
 * off without a word (`Number(process.env.MAX_PAYLOAD)` of an unset variable): it throws, like a negative
 * value or a non-number.
 *
 * @throws TypeError when the value is not a number ≥ 0.
 */
export function sizeOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0))
    throw new TypeError(`${name} must be a number ≥ 0, got ${String(value)}`);
  return value;
}
