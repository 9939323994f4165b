// The off-site half of the backup, backups, restore and verify commands: upload to, list, restore
// from and check destinations named by URL (s3://BUCKET/PREFIX, file:///FOLDER).
import fs from 'node:fs';
import path from 'node:path';
import {
  BackupError,
  type BackupRecord,
  type Destination,
  downloadBackup,
  type EncryptionKey,
  isDestinationUrl,
  KEY_ENV,
  keyFromEnv,
  lineageOfFile,
  listRemoteBackups,
  loadKeyFile,
  openDestination,
  type RetentionPolicy,
  readRemoteHeader,
  resolveRemoteBackup,
  type UploadResult,
  uploadBackup,
} from '../backup/index.js';
import { formatBytes } from './progress.js';

export { isDestinationUrl };

/** The key for encrypting or decrypting: `--encryption-key-file`, else the environment variable. */
export function encryptionKey(keyFile: string | undefined): EncryptionKey | undefined {
  return keyFile !== undefined ? loadKeyFile(keyFile) : keyFromEnv();
}

/** Opens every destination URL first, so a malformed one fails before anything is done. */
export function openDestinations(urls: readonly string[]): Destination[] {
  return urls.map((url) => openDestination(url));
}

/** Uploads a verified local backup to each destination; returns one line per destination. */
export async function uploadToAll(
  file: string,
  record: BackupRecord,
  destinations: readonly Destination[],
  key: EncryptionKey | undefined,
  retention: RetentionPolicy,
  signal: AbortSignal | undefined,
): Promise<{ lines: string[]; failures: BackupError[] }> {
  const lines: string[] = [];
  const failures: BackupError[] = [];
  const lineage = record.lineage ?? lineageOfFile(file);
  const known = {
    bytes: record.bytes,
    sha256: record.checksum,
    pageSize: record.pageSize,
    pageCount: record.pages,
  };
  for (const destination of destinations) {
    try {
      const result = await uploadBackup({
        destination,
        file,
        lineage,
        createdAt: new Date(record.createdAt),
        known,
        key,
        retention,
        signal,
      });
      lines.push(uploadLine(destination, result));
    } catch (err) {
      const failure =
        err instanceof BackupError
          ? err
          : new BackupError('ATS_BACKUP_REMOTE', 'upload', destination.info.url, String(err), { cause: err });
      failures.push(failure);
    }
  }
  return { lines, failures };
}

function uploadLine(destination: Destination, r: UploadResult): string {
  const removed = r.retention?.removed.length ? `, retention removed ${r.retention.removed.length}` : '';
  const problem = r.retentionProblem ? `; retention failed (retried next time): ${r.retentionProblem}` : '';
  return (
    `uploaded ${destination.info.url}/${r.name} (${formatBytes(r.plain.bytes)} -> ${formatBytes(r.storedBytes)}` +
    `, sha256 ${r.plain.sha256.slice(0, 16)}, in ${(r.durationMs / 1000).toFixed(2)} s${removed})${problem}`
  );
}

/** `ats backups --from URL`: the backups there, each described by its header. */
export async function listRemote(url: string, json: boolean, extra: object = {}): Promise<void> {
  const destination = openDestination(url);
  const backups = await listRemoteBackups(destination);
  const rows = [];
  for (const b of backups) {
    const header = await readRemoteHeader(destination, b.name);
    rows.push({
      id: b.id,
      createdAt: header.createdAt,
      lineage: header.lineage,
      bytes: header.bytes,
      storedBytes: b.storedBytes,
      pages: header.pageCount,
      pageSize: header.pageSize,
      sha256: header.sha256,
      encrypted: header.encryption !== null,
    });
  }
  if (json) {
    process.stdout.write(`${JSON.stringify({ from: url, backups: rows, ...extra }, null, 2)}\n`);
    return;
  }
  if (rows.length === 0) {
    process.stdout.write(`no backups at ${url} (${destination.info.description})\n`);
    return;
  }
  for (const r of rows.reverse()) {
    process.stdout.write(
      `${r.id}  ${r.createdAt}  lineage ${r.lineage}  ${formatBytes(r.bytes).padStart(10)} (${formatBytes(r.storedBytes)} stored)` +
        `  ${r.pages} pages  sha256 ${r.sha256.slice(0, 16)}${r.encrypted ? '  encrypted' : ''}\n`,
    );
  }
}

/**
 * Downloads the backup `id` names (the newest when undefined) from `url` beside `database`,
 * checked end to end; the caller installs it and removes the file.
 */
export async function fetchRemote(
  url: string,
  id: string | undefined,
  database: string,
  key: EncryptionKey | undefined,
  verify: 'quick' | 'full',
  onProgress?: (done: number, total: number) => void,
): Promise<{ file: string; label: string; sha256: string }> {
  const destination = openDestination(url);
  const backup = await resolveRemoteBackup(destination, id);
  fs.mkdirSync(path.dirname(database), { recursive: true }); // a new machine: nothing there yet
  const file = `${database}.download.tmp`;
  fs.rmSync(file, { force: true }); // left by an interrupted download
  const { header } = await downloadBackup({ destination, name: backup.name, file, key, verify, onProgress });
  return { file, label: `${url}/${backup.id}`, sha256: header.sha256 };
}

/** `ats verify URL[/ID]`: checks one or every backup there without installing it. */
export async function verifyRemote(
  target: string,
  key: EncryptionKey | undefined,
  full: boolean,
  json: boolean,
): Promise<boolean> {
  const { url, id } = splitId(target);
  const destination = openDestination(url);
  const names =
    id === undefined
      ? (await listRemoteBackups(destination)).map((b) => b.name)
      : [(await resolveRemoteBackup(destination, id)).name];
  const dir = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'ats-verify-'));
  const results: { id: string; ok: boolean; problem?: string; bytes?: number }[] = [];
  try {
    for (const name of names) {
      const file = path.join(dir, 'check.db');
      try {
        const r = await downloadBackup({ destination, name, file, key, verify: full ? 'full' : 'quick' });
        results.push({ id: r.header.id, ok: true, bytes: r.header.bytes });
      } catch (err) {
        results.push({
          id: name.replace(/\.atsb$/, ''),
          ok: false,
          problem: err instanceof Error ? err.message : String(err),
        });
      } finally {
        fs.rmSync(file, { force: true });
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (json) process.stdout.write(`${JSON.stringify({ url, results }, null, 2)}\n`);
  else if (results.length === 0) process.stdout.write(`${url}: no backups there\n`);
  else
    for (const r of results)
      process.stdout.write(
        r.ok
          ? `${url}/${r.id}: ok (checksum, ${full ? 'integrity' : 'quick'}_check, ${formatBytes(r.bytes ?? 0)})\n`
          : `${url}/${r.id}: FAILED ${r.problem}\n`,
      );
  return results.every((r) => r.ok);
}

/** `s3://b/p/20261202T...-lin-abcd` -> the destination and the id; a URL without an id -> all. */
function splitId(target: string): { url: string; id: string | undefined } {
  const match = /^(.*)\/(\d{8}T\d{9}Z-[A-Za-z0-9]{1,36}-[0-9a-f]{4,16})(\.atsb)?$/.exec(target);
  return match ? { url: match[1] ?? '', id: match[2] } : { url: target.replace(/\/+$/, ''), id: undefined };
}

/** The hint for an encrypted object without a key. */
export const KEY_HINT = `--encryption-key-file FILE or ${KEY_ENV}`;
