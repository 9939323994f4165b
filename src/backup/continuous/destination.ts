import fs from 'node:fs';
import path from 'node:path';
import { BackupError, reasonOf } from '../errors.js';
import { fsyncDir } from '../install.js';

/**
 * Where continuous-backup objects go: the few operations the shipper, the restore and retention
 * need. Objects are immutable: a `put` of a key that exists stores the same bytes again (a staged
 * object uploaded a second time after a crash). A plain folder is `FolderStore`; any off-site
 * `Destination` (a file:// folder, S3) is adapted by `streamStore`.
 */
export interface ObjectStore {
  /** A name for messages. */
  readonly url: string;
  /** Stores the local file `file` under `key`, durably, atomically. */
  put(key: string, file: string): Promise<void>;
  /** Copies the object `key` to the local file `file` (created new). */
  get(key: string, file: string): Promise<void>;
  /** The first `bytes` bytes of object `key` (a ranged read: headers without the pages). */
  head(key: string, bytes: number): Promise<Buffer>;
  /** Every key under `prefix` (at any depth), sorted. */
  list(prefix: string): Promise<string[]>;
  /** Removes objects; keys already gone are not an error, so a retried removal succeeds. */
  remove(keys: readonly string[]): Promise<void>;
  /**
   * The same place with no transforming layer (an encrypting store gives its inner store): restore
   * leases are small plain JSON objects that every retention, issue 14's too, must be able to read.
   * Undefined: this store is plain.
   */
  readonly plain?: ObjectStore;
}

/** A local (or mounted) folder as an object store: each key a file, written temp + fsync + rename. */
export class FolderStore implements ObjectStore {
  readonly url: string;
  readonly #root: string;
  /** Counts of requests, for the bench and the idle test. */
  readonly requests = { put: 0, get: 0, head: 0, list: 0, delete: 0 };

  constructor(root: string) {
    this.#root = path.resolve(root);
    this.url = this.#root;
  }

  async put(key: string, file: string): Promise<void> {
    this.requests.put++;
    const target = this.#path(key);
    const tmp = `${target}.tmp`;
    try {
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      await fs.promises.copyFile(file, tmp);
      const fh = await fs.promises.open(tmp, 'r+');
      try {
        await fh.sync();
      } finally {
        await fh.close();
      }
      await fs.promises.rename(tmp, target);
      await fsyncDir(path.dirname(target));
    } catch (err) {
      // Cleaning up must not hide why the put failed (the folder may be gone or not a folder).
      await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
      throw new BackupError('ATS_BACKUP_DEST', 'put backup object', target, reasonOf(err), { cause: err });
    }
  }

  async get(key: string, file: string): Promise<void> {
    this.requests.get++;
    try {
      await fs.promises.copyFile(this.#path(key), file, fs.constants.COPYFILE_EXCL);
    } catch (err) {
      throw new BackupError('ATS_BACKUP_SOURCE', 'get backup object', this.#path(key), reasonOf(err), {
        cause: err,
      });
    }
  }

  async head(key: string, bytes: number): Promise<Buffer> {
    this.requests.head++;
    try {
      const fh = await fs.promises.open(this.#path(key), 'r');
      try {
        const buf = Buffer.alloc(bytes);
        const { bytesRead } = await fh.read(buf, 0, bytes, 0);
        return buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw new BackupError('ATS_BACKUP_SOURCE', 'read backup object', this.#path(key), reasonOf(err), {
        cause: err,
      });
    }
  }

  async list(prefix: string): Promise<string[]> {
    this.requests.list++;
    const out: string[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      const entries = await fs.promises
        .readdir(dir, { withFileTypes: true })
        .catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return [];
          throw err;
        });
      for (const e of entries) {
        const key = `${rel}${e.name}`;
        if (e.isDirectory()) await walk(path.join(dir, e.name), `${key}/`);
        else if (!e.name.endsWith('.tmp') && key.startsWith(prefix)) out.push(key);
      }
    };
    await walk(this.#root, '');
    return out.sort();
  }

  async remove(keys: readonly string[]): Promise<void> {
    const folders = new Set<string>();
    for (const key of keys) {
      this.requests.delete++;
      const file = this.#path(key);
      try {
        await fs.promises.rm(file, { force: true });
      } catch (err) {
        throw new BackupError('ATS_BACKUP_DEST', 'remove backup object', file, reasonOf(err), { cause: err });
      }
      folders.add(path.dirname(file));
    }
    for (const folder of folders) await fsyncDir(folder).catch(() => undefined);
  }

  #path(key: string): string {
    if (key.split('/').some((part) => part === '..' || part === ''))
      throw new BackupError('ATS_BACKUP_INVALID', 'backup object', key, 'not a valid object key');
    return path.join(this.#root, ...key.split('/'));
  }
}
