import crypto from 'node:crypto';
import type { Dirent } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  type ByteRange,
  type Destination,
  type DestinationInfo,
  type PutOptions,
  type RemoteEntry,
  validObjectName,
} from './destination.js';
import { BackupError, reasonOf } from './errors.js';
import { fsyncDir, installFile } from './install.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * A destination that is a folder (another disk, a mounted share): each object a file, written to
 * a hidden temporary name, fsynced, renamed into place and the folder fsynced, so a listing never
 * shows a partial object and a crash leaves at most a `.*.tmp` file that listings ignore.
 */
export class FolderDestination implements Destination {
  readonly info: DestinationInfo;
  readonly #dir: string;

  constructor(dir: string, url = `file://${path.resolve(dir)}`) {
    this.#dir = path.resolve(dir);
    this.info = Object.freeze({ url, kind: 'folder', description: `folder ${this.#dir}` });
  }

  async list(): Promise<RemoteEntry[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.#dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw this.#fail('list', this.#dir, err);
    }
    const entries: RemoteEntry[] = [];
    for (const name of names.filter((n) => NAME.test(n)).sort()) {
      const stat = await fs.stat(path.join(this.#dir, name)).catch(() => undefined);
      if (stat?.isFile()) entries.push({ name, bytes: stat.size });
    }
    return entries;
  }

  async listPrefix(prefix: string): Promise<RemoteEntry[]> {
    // Walk only the folder the prefix is inside of (`lineages/` -> lineages), not the whole tree.
    const base = prefix.slice(0, prefix.lastIndexOf('/') + 1);
    if (base !== '' && !validObjectName(base.slice(0, -1))) return [];
    const entries: RemoteEntry[] = [];
    const walk = async (rel: string): Promise<void> => {
      const dir = path.join(this.#dir, ...rel.split('/').filter(Boolean));
      let found: Dirent[];
      try {
        found = await fs.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw this.#fail('list', dir, err);
      }
      for (const e of found) {
        const name = `${rel}${e.name}`;
        // Hidden temporaries (`.x.tmp`) fail NAME: a listing never shows a partial object.
        if (!NAME.test(e.name)) continue;
        if (e.isDirectory()) {
          if (name.startsWith(prefix) || prefix.startsWith(`${name}/`)) await walk(`${name}/`);
        } else if (e.isFile() && name.startsWith(prefix)) {
          const stat = await fs.stat(path.join(dir, e.name)).catch(() => undefined);
          if (stat?.isFile()) entries.push({ name, bytes: stat.size });
        }
      }
    };
    await walk(base);
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async put(name: string, body: AsyncIterable<Buffer>, options: PutOptions = {}): Promise<RemoteEntry> {
    const file = this.#path(name);
    const folder = path.dirname(file);
    await fs.mkdir(folder, { recursive: true }).catch((err: unknown) => {
      throw this.#fail('create folder', folder, err);
    });
    const tmp = path.join(folder, `.${path.basename(file)}.${crypto.randomBytes(4).toString('hex')}.tmp`);
    const handle = await fs.open(tmp, 'wx', 0o600).catch((err: unknown) => {
      throw this.#fail('create', tmp, err);
    });
    let closed = false;
    try {
      // Each chunk is written before the next is asked for (they are lent, see Destination.put).
      let offset = 0;
      for await (const chunk of body) {
        options.signal?.throwIfAborted();
        for (let done = 0; done < chunk.length; ) {
          const { bytesWritten } = await handle.write(chunk, done, chunk.length - done, offset + done);
          done += bytesWritten;
        }
        offset += chunk.length;
      }
      await handle.close();
      closed = true;
      if (await exists(file))
        throw new Error('an object of that name exists already (objects are immutable)');
      await installFile(tmp, file); // the one install path: fsync, rename, fsync the folder
      return { name, bytes: (await fs.stat(file)).size };
    } catch (err) {
      if (!closed) await handle.close().catch(() => {});
      await fs.rm(tmp, { force: true });
      throw err instanceof BackupError && err.code !== 'ATS_BACKUP_ROTATE'
        ? err
        : this.#fail('put', file, err);
    }
  }

  async open(name: string, range: ByteRange = {}): Promise<Readable> {
    const file = this.#path(name);
    const handle = await fs.open(file, 'r').catch((err: unknown) => {
      throw this.#fail('open', file, err);
    });
    const end = range.end === undefined ? undefined : range.end - 1;
    if (end !== undefined && end < (range.start ?? 0)) return Readable.from([]);
    return handle.createReadStream({ start: range.start ?? 0, end, autoClose: true });
  }

  async stat(name: string): Promise<RemoteEntry | undefined> {
    const stat = await fs.stat(this.#path(name)).catch(() => undefined);
    return stat?.isFile() ? { name, bytes: stat.size } : undefined;
  }

  async remove(names: readonly string[]): Promise<void> {
    const folders = new Set<string>();
    for (const name of names) {
      const file = this.#path(name);
      await fs.rm(file, { force: true }).catch((err: unknown) => {
        throw this.#fail('remove', file, err);
      });
      folders.add(path.dirname(file));
    }
    for (const folder of folders) await fsyncDir(folder).catch(() => {});
  }

  #path(name: string): string {
    if (!validObjectName(name))
      throw new BackupError(
        'ATS_BACKUP_INVALID',
        'name object',
        name,
        'not a valid object name (parts of letters, digits, . _ - separated by /)',
      );
    return path.join(this.#dir, name);
  }

  #fail(operation: string, file: string, err: unknown): BackupError {
    return new BackupError('ATS_BACKUP_REMOTE', operation, file, reasonOf(err), { cause: err });
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}
