import { BackupError } from './errors.js';

/** A parsed `s3://BUCKET/PREFIX`. */
export interface S3Location {
  readonly bucket: string;
  /** Without leading or trailing slash; '' for the bucket's root. */
  readonly prefix: string;
}

// S3's bucket naming rules (3-63 characters, lowercase letters, digits, dots and hyphens).
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Parses `s3://BUCKET/PREFIX`; returns a reason instead when it is not one. */
export function parseS3Url(url: string): S3Location | { readonly problem: string } {
  const match = /^s3:\/\/([^/?#]*)(\/[^?#]*)?$/.exec(url);
  if (!match) return { problem: `${JSON.stringify(url)} is not of the form s3://BUCKET/PREFIX` };
  const bucket = match[1] ?? '';
  if (!BUCKET.test(bucket) || bucket.includes('..'))
    return {
      problem: `bucket ${JSON.stringify(bucket)} in ${url} is not a valid bucket name (3-63 of a-z 0-9 . -)`,
    };
  const prefix = (match[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix !== '' && prefix.split('/').some((part) => part === '' || part === '.' || part === '..'))
    return { problem: `prefix ${JSON.stringify(prefix)} in ${url} has an empty, . or .. part` };
  return Object.freeze({ bucket, prefix });
}

/** Like {@link parseS3Url} but throws EINVALID. */
export function requireS3Url(url: string): S3Location {
  const parsed = parseS3Url(url);
  if ('problem' in parsed)
    throw new BackupError('ATS_BACKUP_INVALID', 'parse destination', url, parsed.problem);
  return parsed;
}
