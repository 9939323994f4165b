import cliProgress from 'cli-progress';

/** A progress reporter: a bar on a terminal, silence otherwise. */
export interface ProgressReporter {
  /** `done` of `total`, in the unit the reporter was made with, during `phase`. */
  update(phase: string, done: number, total: number): void;
  stop(): void;
}

/** A bar on stderr when it is a terminal; otherwise a reporter that does nothing. */
export function progressReporter(label: string, unit: string): ProgressReporter {
  if (!process.stderr.isTTY) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} {phase} [{bar}] {percentage}% {value}/{total} ${unit}`,
      stream: process.stderr,
      hideCursor: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(phase, done, total) {
      if (!started) {
        bar.start(Math.max(total, 1), done, { phase });
        started = true;
      }
      bar.setTotal(Math.max(total, 1));
      bar.update(done, { phase });
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** Bytes as a short human figure. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}
