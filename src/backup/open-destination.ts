import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Destination } from './destination.js';
import { BackupError } from './errors.js';
import { FolderDestination } from './local-destination.js';
import { type S3ClientSettings, type S3Env, s3Settings } from './s3-client.js';
import { S3Destination } from './s3-destination.js';
import { parseS3Url } from './s3-url.js';

/** Options of {@link openDestination}. */
export interface OpenDestinationOptions {
  /** Where endpoint and region come from. Default: process.env. */
  readonly env?: S3Env;
  /** Client settings over those from the environment (tests, bench). */
  readonly s3?: Partial<S3ClientSettings>;
}

/** Whether `url` names a remote destination (`s3://` or `file://`) rather than a local backup path. */
export function isDestinationUrl(url: string): boolean {
  return /^(s3|file):\/\//.test(url);
}

/** Checks a destination URL without opening it; returns the problem, or undefined when it is good. */
export function destinationUrlProblem(url: string): string | undefined {
  if (url.startsWith('s3://')) {
    const parsed = parseS3Url(url);
    return 'problem' in parsed ? parsed.problem : undefined;
  }
  if (url.startsWith('file://')) {
    try {
      return path.isAbsolute(fileURLToPath(url)) ? undefined : `${url} is not an absolute file:// URL`;
    } catch (err) {
      return `${url} is not a file:// URL (${err instanceof Error ? err.message : String(err)})`;
    }
  }
  return `${JSON.stringify(url)} is not a destination URL (s3://BUCKET/PREFIX or file:///FOLDER)`;
}

/** The destination `url` names: `s3://BUCKET/PREFIX` or `file:///FOLDER`. Throws EINVALID for anything else. */
export function openDestination(url: string, options: OpenDestinationOptions = {}): Destination {
  const problem = destinationUrlProblem(url);
  if (problem !== undefined) throw new BackupError('ATS_BACKUP_INVALID', 'open destination', url, problem);
  if (url.startsWith('file://')) return new FolderDestination(fileURLToPath(url), url);
  const location = parseS3Url(url);
  if ('problem' in location)
    throw new BackupError('ATS_BACKUP_INVALID', 'open destination', url, location.problem);
  return new S3Destination(url, location, s3Settings(options.env ?? process.env, options.s3));
}
