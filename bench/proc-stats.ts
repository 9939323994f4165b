import fs from 'node:fs';
import { spawnChild } from './child.js';
import { nowMs } from './clock.js';

/** A field of /proc/PID/status in kB (VmRSS, VmHWM), or undefined once the process is gone. */
export function statusKb(pid: number | 'self', field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      fs.readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined; // the process has exited
  }
}

/** Resets this process's peak RSS (VmHWM) to its current RSS, so a later VmHWM is the peak since now. */
export function resetPeakRss(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false; // older kernels or no permission: the peak then includes start-up
  }
}

/** What one external command did. */
export interface MeasuredRun {
  readonly code: number | string;
  readonly stdout: string;
  readonly stderr: string;
  readonly startedAt: number;
  readonly endedAt: number;
  /** Killed for running past the cap. */
  readonly capped: boolean;
  /** Highest VmHWM seen while polling every 10 ms (the kernel's own peak, so polling loses little). */
  readonly peakRssKb: number | undefined;
}

/** Runs a command to completion or to `capMs`, whichever comes first, tracking its peak RSS. */
export async function runMeasured(
  command: string,
  args: readonly string[],
  capMs: number,
): Promise<MeasuredRun> {
  const startedAt = nowMs();
  const child = spawnChild(command, args);
  let peak: number | undefined;
  let capped = false;
  const poll = setInterval(() => {
    const hwm = statusKb(child.pid, 'VmHWM');
    if (hwm !== undefined) peak = Math.max(peak ?? 0, hwm);
  }, 10);
  const cap = setTimeout(() => {
    capped = true;
    child.kill('SIGKILL');
  }, capMs);
  try {
    const { code, stdout, stderr } = await child.exited;
    return { code, stdout, stderr, startedAt, endedAt: nowMs(), capped, peakRssKb: peak };
  } finally {
    clearInterval(poll);
    clearTimeout(cap);
  }
}

/** fsyncs `file`; returns the milliseconds it took. */
export function fsyncFile(file: string): number {
  const started = nowMs();
  const fd = fs.openSync(file, 'r+');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return nowMs() - started;
}
