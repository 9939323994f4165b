// One off-site measurement in its own process, so its peak RSS is its own: a bare SDK PutObject or
// GetObject of a file, or ats's upload or download of it. Prints one JSON line.
// Args: <op> <json settings>
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ROOT } from './paths.js';
import { resetPeakRss, statusKb } from './proc-stats.js';

type Engine = typeof import('../dist/backup/index.js');

/** What the driver asks one child to do. */
export interface OffsiteChildSettings {
  readonly endpoint: string;
  readonly bucket: string;
  readonly file: string;
  readonly key: string;
  readonly url: string;
  readonly name?: string;
  readonly out: string;
  readonly keyFile?: string;
}

/** What one child measured. */
export interface OffsiteChildResult {
  readonly ms: number;
  readonly bytes: number;
  readonly storedBytes?: number;
  readonly name?: string;
  readonly verifyMs?: number;
  /** CPU time of the whole process (every thread) during the work, user + system. */
  readonly cpuMs?: number;
  /** Time the main thread's event loop was busy during the work (the rest it was free to serve). */
  readonly loopBusyMs?: number;
  /** RSS when the measured work started, and the peak during it. */
  readonly rssStartKb: number | undefined;
  readonly rssPeakKb: number | undefined;
}

async function main(): Promise<void> {
  const [op, json] = process.argv.slice(2);
  const s = JSON.parse(json ?? '{}') as OffsiteChildSettings;
  const engine = (await import(pathToFileURL(path.join(ROOT, 'dist/backup/index.js')).href)) as Engine;
  const env = {
    AWS_ENDPOINT_URL_S3: s.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'S3RVER',
    AWS_SECRET_ACCESS_KEY: 'S3RVER',
  };
  const client = new S3Client({
    endpoint: s.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const destination = engine.openDestination(s.url, { env });
  const key = s.keyFile ? engine.loadKeyFile(s.keyFile) : undefined;
  const bytes = fs.statSync(s.file).size;
  // The service uploads with the checksum the catalogue recorded at backup time: computed here,
  // before the clock starts (the upload still hashes the file beside it and checks them).
  const known = op === 'upload' ? await facts(s.file) : undefined;
  (globalThis as { gc?: () => void }).gc?.(); // with --expose-gc: the checksum pre-pass leaves no garbage in the baseline
  resetPeakRss();
  const rssStartKb = statusKb('self', 'VmRSS');
  const cpuStart = process.cpuUsage();
  const loopStart = performance.eventLoopUtilization();
  const started = performance.now();
  let extra: Partial<OffsiteChildResult> = {};
  if (op === 'bare-put') {
    await client.send(
      new PutObjectCommand({
        Bucket: s.bucket,
        Key: s.key,
        Body: fs.createReadStream(s.file),
        ContentLength: bytes,
      }),
    );
  } else if (op === 'bare-get') {
    const got = await client.send(new GetObjectCommand({ Bucket: s.bucket, Key: s.key }));
    await pipeline(got.Body as NodeJS.ReadableStream, fs.createWriteStream(s.out));
  } else if (op === 'upload') {
    const r = await engine.uploadBackup({ destination, file: s.file, lineage: 'bench', key, known });
    extra = { storedBytes: r.storedBytes, name: r.name };
  } else if (op === 'download') {
    const r = await engine.downloadBackup({
      destination,
      name: s.name ?? '',
      file: s.out,
      key,
      verify: 'quick',
    });
    extra = { verifyMs: r.verify.ms };
  } else throw new Error(`unknown op ${op}`);
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuStart);
  const loop = performance.eventLoopUtilization(loopStart);
  const result: OffsiteChildResult = {
    ms,
    bytes,
    cpuMs: (cpu.user + cpu.system) / 1000,
    loopBusyMs: loop.active,
    rssStartKb,
    rssPeakKb: statusKb('self', 'VmHWM'),
    ...extra,
  };
  fs.rmSync(s.out, { force: true });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function facts(
  file: string,
): Promise<{ bytes: number; sha256: string; pageSize: number; pageCount: number }> {
  const hash = crypto.createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 << 20 }))
    hash.update(chunk as Buffer);
  const head = Buffer.alloc(100);
  const handle = await fs.promises.open(file, 'r');
  await handle.read(head, 0, 100, 0);
  await handle.close();
  const raw = head.readUInt16BE(16);
  return {
    bytes: fs.statSync(file).size,
    sha256: hash.digest('hex'),
    pageSize: raw === 1 ? 65_536 : raw,
    pageCount: head.readUInt32BE(28),
  };
}

await main();
