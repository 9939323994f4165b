import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { type Child, spawnChild } from '../child.js';
import { sleep } from '../clock.js';
import { CLI } from '../paths.js';

/** The compiled `serve` subcommand; the service case runs only once it exists. */
export const SERVE_COMMAND = path.join(path.dirname(CLI), 'commands/serve.js');

/** A running `ats serve`. */
export interface Service {
  readonly pid: number;
  readonly port: number;
  /** Stops it (SIGTERM, then SIGKILL after 15 s); resolves with its stdout (JSON log lines). */
  stop(): Promise<string>;
}

/** Writes an am.toml for `db` and starts `ats serve` with it on a free 127.0.0.1 port. */
export async function startService(opts: {
  db: string;
  configFile: string;
  backupIntervalSeconds: number;
  /** Another build's CLI (default this one's). */
  cli?: string | undefined;
}): Promise<Service> {
  const port = await freePort();
  fs.writeFileSync(
    opts.configFile,
    [
      '[Database]',
      `path = ${JSON.stringify(opts.db)}`,
      `backup_interval_seconds = ${opts.backupIntervalSeconds}`,
      'backup_keep = 2',
      '',
      '[Pulse]',
      'ticker_interval_seconds = 1',
      '',
      '[Server]',
      'host = "127.0.0.1"',
      `port = ${port}`,
      '',
    ].join('\n'),
  );
  const child = spawnChild(process.execPath, [opts.cli ?? CLI, 'serve', '--config', opts.configFile], {
    cwd: path.dirname(opts.configFile),
  });
  await waitHealthy(child, port);
  return {
    pid: child.pid,
    port,
    async stop() {
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const result = await child.exited.catch(() => undefined);
      clearTimeout(killer);
      return result?.stdout ?? '';
    },
  };
}

async function waitHealthy(child: Child, port: number): Promise<void> {
  let exited: string | undefined;
  void child.exited.then((r) => {
    exited = `exited with ${r.code}: ${r.stderr.slice(-800)}`;
  });
  for (let i = 0; i < 300; i++) {
    if (exited) throw new Error(`ats serve ${exited}`);
    const res = await request(port, 'GET', '/healthz').catch(() => undefined);
    if (res?.status === 200) return;
    await sleep(100);
  }
  child.kill('SIGKILL');
  throw new Error('ats serve did not answer GET /healthz within 30 s');
}

/** One HTTP request to the service on 127.0.0.1; resolves with the status and the body text. */
export function request(
  port: number,
  method: string,
  pathname: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: pathname,
        method,
        headers: payload
          ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
          : {},
      },
      (res) => {
        let text = '';
        res
          .setEncoding('utf8')
          .on('data', (c: string) => {
            text += c;
          })
          .on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.setTimeout(120_000, () => req.destroy(new Error(`${method} ${pathname}: no answer in 120 s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port')),
      );
    });
  });
}
