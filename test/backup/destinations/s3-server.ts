// Starts and stops the real S3 server the destination tests run against (no mock: s3rver stores
// objects as files and speaks S3's HTTP API).
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { ROOT, removeDir, tempDir } from '../../helpers.js';

/** A running s3rver with one bucket. */
export interface S3Server {
  readonly endpoint: string;
  readonly bucket: string;
  /** Environment for the CLI and the client: endpoint, region, the server's key pair. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

/** Starts s3rver on 127.0.0.1, a free port, a temp folder, with `bucket` created. */
export async function startS3Server(bucket = 'ats-test'): Promise<S3Server> {
  const dir = tempDir('ats-s3rver-');
  const child: ChildProcess = spawn(
    process.execPath,
    [path.join(ROOT, 'test/fixtures/s3rver.mjs'), dir, bucket],
    {
      env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0] ?? '';
      if (out.includes('\n')) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`s3rver exited with ${code}: ${stderr}`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: s3Env(endpoint),
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      removeDir(dir);
    },
  };
}

/** The environment that points the SDK at a local endpoint with s3rver's built-in key pair. */
export function s3Env(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
  };
}
