import { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  type ByteRange,
  type Destination,
  type DestinationInfo,
  type PutOptions,
  type RemoteEntry,
  validObjectName,
} from './destination.js';
import { BackupError, reasonOf } from './errors.js';
import { makeS3Client, type S3ClientSettings, s3Settings } from './s3-client.js';
import { partBytesFor, putStream } from './s3-multipart.js';
import type { S3Location } from './s3-url.js';

/** Times a download resumes (from the byte it reached) after a dropped or cut connection. */
const DOWNLOAD_RESUMES = 6;

/**
 * A destination in an S3-compatible bucket under a prefix. Objects larger than a part go up as a
 * multipart upload, which the server shows only once completed (and which is aborted on failure),
 * so an interrupted upload never leaves a visible half-object. Requests retry with backoff on 5xx,
 * throttling and timeouts (the SDK's standard mode); downloads resume where a dropped connection
 * left them, and end-to-end integrity comes from the object format, not from the server.
 */
export class S3Destination implements Destination {
  readonly info: DestinationInfo;
  readonly #client: S3Client;
  readonly #location: S3Location;
  readonly #settings: S3ClientSettings;

  constructor(url: string, location: S3Location, settings: S3ClientSettings = s3Settings()) {
    this.#location = location;
    this.#settings = settings;
    this.#client = makeS3Client(settings);
    const where = settings.endpoint ? ` at ${settings.endpoint}` : '';
    this.info = Object.freeze({
      url,
      kind: 's3',
      description: `bucket ${location.bucket}, prefix ${location.prefix || '(root)'}${where} (region ${settings.region ?? 'from profile'})`,
    });
  }

  async list(signal?: AbortSignal): Promise<RemoteEntry[]> {
    const entries: RemoteEntry[] = [];
    const prefix = this.#key('');
    let token: string | undefined;
    do {
      const page = await this.#call('list', prefix, () =>
        this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#location.bucket,
            Prefix: prefix,
            ContinuationToken: token,
          }),
          { abortSignal: signal },
        ),
      );
      for (const object of page.Contents ?? []) {
        const name = object.Key?.slice(prefix.length) ?? '';
        if (name !== '' && !name.includes('/')) entries.push({ name, bytes: object.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async listPrefix(prefix: string, signal?: AbortSignal): Promise<RemoteEntry[]> {
    const base = this.#location.prefix;
    const full = base === '' ? prefix : `${base}/${prefix}`;
    const entries: RemoteEntry[] = [];
    let token: string | undefined;
    do {
      const page = await this.#call('list', full, () =>
        this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.#location.bucket,
            Prefix: full,
            ContinuationToken: token,
            MaxKeys: this.#settings.listPageKeys,
          }),
          { abortSignal: signal },
        ),
      );
      for (const object of page.Contents ?? []) {
        const name = base === '' ? (object.Key ?? '') : (object.Key ?? '').slice(base.length + 1);
        if (name !== '' && validObjectName(name)) entries.push({ name, bytes: object.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async put(name: string, body: AsyncIterable<Buffer>, options: PutOptions = {}): Promise<RemoteEntry> {
    const key = this.#key(name);
    const { signal } = options;
    await this.#call('upload', key, () =>
      putStream(
        {
          client: this.#client,
          bucket: this.#location.bucket,
          key,
          partBytes: partBytesFor(this.#settings.partBytes, options.maxBytes),
          queueSize: this.#settings.queueSize,
          signal,
        },
        body,
      ),
    );
    const stored = await this.stat(name, signal);
    if (!stored)
      throw new BackupError(
        'ATS_BACKUP_REMOTE',
        'upload',
        this.#url(key),
        'the object is not there after upload',
      );
    return stored;
  }

  async open(name: string, range: ByteRange = {}, signal?: AbortSignal): Promise<Readable> {
    const key = this.#key(name);
    const start = range.start ?? 0;
    if (range.end !== undefined && range.end <= start) return Readable.from([]);
    const first = await this.#get(key, start, range.end, signal);
    return Readable.from(this.#resumingBody(key, start, range.end, first, signal));
  }

  async stat(name: string, signal?: AbortSignal): Promise<RemoteEntry | undefined> {
    const key = this.#key(name);
    try {
      const head = await this.#client.send(
        new HeadObjectCommand({ Bucket: this.#location.bucket, Key: key }),
        {
          abortSignal: signal,
        },
      );
      return { name, bytes: head.ContentLength ?? 0 };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new BackupError('ATS_BACKUP_REMOTE', 'stat', this.#url(key), describe(err), { cause: err });
    }
  }

  async remove(names: readonly string[], signal?: AbortSignal): Promise<void> {
    for (let i = 0; i < names.length; i += 1000) {
      const batch = names.slice(i, i + 1000).map((name) => ({ Key: this.#key(name) }));
      const result = await this.#call('remove', this.#key(''), () =>
        this.#client.send(
          new DeleteObjectsCommand({
            Bucket: this.#location.bucket,
            Delete: { Objects: batch, Quiet: true },
          }),
          { abortSignal: signal },
        ),
      );
      // Deleting a key that is already gone succeeds in S3; any other per-key error is a failure.
      const failed = (result.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0)
        throw new BackupError(
          'ATS_BACKUP_REMOTE',
          'remove',
          this.#url(failed[0]?.Key ?? ''),
          `${failed.length} object(s) not removed: ${failed[0]?.Code ?? ''} ${failed[0]?.Message ?? ''}`,
        );
    }
  }

  /** The body from `start`, resumed from the byte reached when the connection drops or ends early. */
  async *#resumingBody(
    key: string,
    start: number,
    end: number | undefined,
    first: { body: Readable; end: number },
    signal?: AbortSignal,
  ): AsyncGenerator<Buffer> {
    let offset = start;
    let current = first;
    for (let resumes = 0; ; ) {
      try {
        for await (const chunk of current.body as AsyncIterable<Buffer>) {
          offset += chunk.length;
          yield chunk;
        }
        if (offset >= current.end) return;
        throw new Error(`the body ended at byte ${offset} of ${current.end}`);
      } catch (err) {
        current.body.destroy();
        if (signal?.aborted || resumes >= DOWNLOAD_RESUMES)
          throw new BackupError(
            'ATS_BACKUP_REMOTE',
            'download',
            this.#url(key),
            `${describe(err)} (after ${resumes} resumes)`,
            {
              cause: err,
            },
          );
        resumes++;
        await sleep(200 * 2 ** resumes, signal);
        current = await this.#get(key, offset, end, signal);
      }
    }
  }

  async #get(
    key: string,
    start: number,
    end: number | undefined,
    signal?: AbortSignal,
  ): Promise<{ body: Readable; end: number }> {
    const range =
      start > 0 || end !== undefined ? `bytes=${start}-${end === undefined ? '' : end - 1}` : undefined;
    const response = await this.#call('download', key, () =>
      this.#client.send(
        new GetObjectCommand({
          Bucket: this.#location.bucket,
          Key: key,
          ...(range ? { Range: range } : {}),
        }),
        { abortSignal: signal },
      ),
    );
    if (!(response.Body instanceof Readable))
      throw new BackupError(
        'ATS_BACKUP_REMOTE',
        'download',
        this.#url(key),
        'the response has no body stream',
      );
    return { body: response.Body, end: start + (response.ContentLength ?? 0) };
  }

  async #call<T>(operation: string, key: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof BackupError) throw err;
      throw new BackupError('ATS_BACKUP_REMOTE', operation, this.#url(key), describe(err), { cause: err });
    }
  }

  #key(name: string): string {
    if (name !== '' && !validObjectName(name))
      throw new BackupError(
        'ATS_BACKUP_INVALID',
        'name object',
        name,
        'not a valid object name (parts of letters, digits, . _ - separated by /)',
      );
    return this.#location.prefix === '' ? name : `${this.#location.prefix}/${name}`;
  }

  #url(key: string): string {
    return `s3://${this.#location.bucket}/${key}`;
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
}

/** An SDK error as one line: its name, HTTP status and message (never a credential). */
function describe(err: unknown): string {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number; attempts?: number } };
  const status = e.$metadata?.httpStatusCode;
  const attempts = e.$metadata?.attempts;
  const parts = [
    e.name && e.name !== 'Error' ? e.name : undefined,
    status ? `HTTP ${status}` : undefined,
    attempts && attempts > 1 ? `${attempts} attempts` : undefined,
  ].filter(Boolean);
  return `${parts.length ? `${parts.join(', ')}: ` : ''}${reasonOf(err)}`;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}
