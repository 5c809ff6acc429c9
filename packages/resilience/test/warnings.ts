/**
 * The process warnings emitted while `run` runs. Node emits them on the next tick, which vitest's fake
 * timers leave real, so this works with fake timers too.
 */
export async function captureWarnings(run: () => void): Promise<Error[]> {
  const warnings: Error[] = [];
  const onWarning = (warning: Error): void => {
    warnings.push(warning);
  };
  process.on('warning', onWarning);
  try {
    run();
    await new Promise((resolve) => process.nextTick(resolve));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}
