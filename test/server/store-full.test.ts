import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { attestation, CLI, removeDir, tempDir } from '../helpers.js';

// A full disk, as the real service meets it: its database on an 8 MiB tmpfs (root only; skipped
// where mounting is not allowed). SQLite reports ENOSPC as SQLITE_FULL (and the write gate refuses writes once too little is free); either way the client gets 507
// ATS_STORE_FULL that says so, not "internal error", and the service keeps answering reads.
let dir: string;
let stop: (() => Promise<void>) | undefined;
let mounted: string | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
  if (mounted) execFileSync('umount', [mounted]);
  mounted = undefined;
  removeDir(dir);
});

function mountTmpfs(at: string): boolean {
  fs.mkdirSync(at);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', at], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

async function serve(config: string): Promise<string> {
  const child = spawn(process.execPath, [CLI, 'serve', '--config', config], {
    cwd: path.dirname(config),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  stop = async () => {
    child.kill('SIGTERM');
    await exited;
  };
  return new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buffered += chunk;
      const found = /"url":"([^"]+)"/.exec(buffered);
      if (found?.[1]) resolve(found[1]);
    });
    void exited.then(() => reject(new Error('ats serve exited before listening')));
  });
}

describe('a full disk', () => {
  it('a put that does not fit gets 507 ATS_STORE_FULL; reads and /healthz keep answering', async () => {
    dir = tempDir();
    if (!mountTmpfs(path.join(dir, 'data'))) return; // not root: nothing to test here
    mounted = path.join(dir, 'data');
    const config = path.join(dir, 'am.toml');
    fs.writeFileSync(
      config,
      '[Database]\npath = "data/ats.db"\nbackup_interval_seconds = 0\n[Server]\nport = 0\n',
    );
    const url = await serve(config);
    const blob = 'z'.repeat(60_000);
    let response: Response | undefined;
    let accepted = 0;
    for (let i = 0; i < 400; i++) {
      response = await fetch(`${url}/attestations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(attestation(i, { attributes: { blob } })),
      });
      if (response.status !== 201) break;
      accepted++;
    }
    expect(accepted).toBeGreaterThan(0);
    expect(response?.status).toBe(507);
    expect(await response?.json()).toEqual({
      error: 'ATS_STORE_FULL',
      message: 'the disk is full; nothing was written, retry once space is freed',
    });
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const stats = (await (await fetch(`${url}/stats`)).json()) as { attestations: number };
    expect(stats.attestations).toBe(accepted);
  });
});
