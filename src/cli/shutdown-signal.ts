/**
 * Runs `work` with an AbortSignal that SIGINT or SIGTERM aborts, so a one-shot command cancels
 * cleanly (its temporary files removed) instead of dying mid-write.
 */
export async function withShutdownSignal<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals): void => {
    process.stderr.write(`${name}: cancelling\n`);
    controller.abort(new Error(name));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
