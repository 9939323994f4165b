import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BackupError, reasonOf } from '../errors.js';
import type { ObjectStore } from './destination.js';

/**
 * The shape of a streaming destination (the off-site destinations' `Destination`: prefix listing,
 * put of a stream, ranged open, stat, remove), declared here so continuous backup can run on any of them.
 */
export interface StreamDestination {
  readonly info: { readonly url: string };
  listPrefix(prefix: string): Promise<readonly { readonly name: string }[]>;
  put(name: string, body: AsyncIterable<Buffer>, options?: { readonly maxBytes?: number }): Promise<unknown>;
  stat(name: string): Promise<{ readonly bytes: number } | undefined>;
  open(name: string, range?: { readonly start?: number; readonly end?: number }): Promise<Readable>;
  remove(names: readonly string[]): Promise<void>;
}

/** Continuous backup's ObjectStore over a streaming destination (objects are put once, never replaced). */
export function streamStore(destination: StreamDestination): ObjectStore {
  const url = destination.info.url;
  return {
    url,
    async put(key, file) {
      try {
        const body = fs.createReadStream(file);
        try {
          await destination.put(key, body, { maxBytes: fs.statSync(file).size });
        } finally {
          body.destroy();
        }
      } catch (err) {
        // A folder refuses to replace an object: the same staged object uploaded again after a
        // crash (between its upload and the removal of its staged file) is already there, whole.
        const there = await destination.stat(key).catch(() => undefined);
        if (there !== undefined && there.bytes === fs.statSync(file).size) return;
        throw new BackupError('ATS_BACKUP_DEST', 'put backup object', `${url}/${key}`, reasonOf(err), {
          cause: err,
        });
      }
    },
    async get(key, file) {
      try {
        await pipeline(await destination.open(key), fs.createWriteStream(file, { flags: 'wx' }));
      } catch (err) {
        throw new BackupError('ATS_BACKUP_SOURCE', 'get backup object', `${url}/${key}`, reasonOf(err), {
          cause: err,
        });
      }
    },
    async head(key, bytes) {
      const chunks: Buffer[] = [];
      try {
        for await (const chunk of await destination.open(key, { start: 0, end: bytes }))
          chunks.push(chunk as Buffer);
      } catch (err) {
        throw new BackupError('ATS_BACKUP_SOURCE', 'read backup object', `${url}/${key}`, reasonOf(err), {
          cause: err,
        });
      }
      return Buffer.concat(chunks).subarray(0, bytes);
    },
    async list(prefix) {
      return (await destination.listPrefix(prefix)).map((e) => e.name).sort();
    },
    async remove(keys) {
      await destination.remove(keys);
    },
  };
}
