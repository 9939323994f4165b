import { S3Client } from '@aws-sdk/client-s3';

/** Environment variables the S3 client reads besides the SDK's own credential chain. */
export interface S3Env {
  readonly AWS_ENDPOINT_URL_S3?: string | undefined;
  readonly AWS_ENDPOINT_URL?: string | undefined;
  readonly AWS_REGION?: string | undefined;
  readonly AWS_DEFAULT_REGION?: string | undefined;
  readonly AWS_ACCESS_KEY_ID?: string | undefined;
  readonly AWS_SECRET_ACCESS_KEY?: string | undefined;
  readonly AWS_SESSION_TOKEN?: string | undefined;
}

/** How the client talks to the server, resolved from the environment. */
export interface S3ClientSettings {
  readonly endpoint: string | undefined;
  readonly region: string | undefined;
  readonly forcePathStyle: boolean;
  /** Attempts per request (the SDK's standard retry mode: backoff with jitter on 5xx, throttling, timeouts). */
  readonly maxAttempts: number;
  readonly connectionTimeoutMs: number;
  /** A request with no byte moving for this long is abandoned (and retried). */
  readonly requestTimeoutMs: number;
  /** Part size of multipart uploads, and parts in flight: memory stays near their product. */
  readonly partBytes: number;
  readonly queueSize: number;
  /** Keys per ListObjectsV2 page (S3's maximum is 1,000; tests set fewer to exercise the paging). */
  readonly listPageKeys: number;
  /** A key pair given in the environment passed in; undefined: the SDK's default chain. */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

/** Defaults of the client settings. */
export const S3_DEFAULTS = Object.freeze({
  maxAttempts: 6,
  connectionTimeoutMs: 5_000,
  requestTimeoutMs: 30_000,
  partBytes: 5 << 20,
  queueSize: 2,
  listPageKeys: 1000,
});

/**
 * The settings the AWS SDK's standard sources give: `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`;
 * `AWS_REGION` (or `AWS_DEFAULT_REGION`), `us-east-1` when an endpoint is set and no region is;
 * with a custom endpoint, path-style addressing (what MinIO, R2, B2 and s3rver need).
 * Credentials are left to the SDK's default chain (environment, profiles, SSO, instance roles).
 */
export function s3Settings(
  env: S3Env = process.env,
  overrides: Partial<S3ClientSettings> = {},
): S3ClientSettings {
  const endpoint = nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  const region =
    nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? (endpoint ? 'us-east-1' : undefined);
  const accessKeyId = nonEmpty(env.AWS_ACCESS_KEY_ID);
  const secretAccessKey = nonEmpty(env.AWS_SECRET_ACCESS_KEY);
  const sessionToken = nonEmpty(env.AWS_SESSION_TOKEN);
  return Object.freeze({
    endpoint,
    credentials:
      accessKeyId && secretAccessKey
        ? { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) }
        : undefined,
    region,
    forcePathStyle: endpoint !== undefined,
    ...S3_DEFAULTS,
    ...(Object.fromEntries(
      Object.entries(overrides).filter(([, v]) => v !== undefined),
    ) as Partial<S3ClientSettings>),
  });
}

/** An S3 client with `settings`. */
export function makeS3Client(settings: S3ClientSettings): S3Client {
  // The SDK warns on stderr of every command that its releases after January 2027 need Node 22;
  // the lockfile pins this release, so the warning says nothing a user can act on (unless they ask).
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.region ? { region: settings.region } : {}),
    ...(settings.credentials ? { credentials: settings.credentials } : {}),
    forcePathStyle: settings.forcePathStyle,
    maxAttempts: settings.maxAttempts,
    retryMode: 'standard',
    // Our own format carries and checks a checksum end to end. SDK-side checksums on streamed
    // bodies switch to aws-chunked framing, which some S3-compatible servers store verbatim
    // (s3rver: HTTP 200 and the framing bytes in the object).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: settings.connectionTimeoutMs,
      requestTimeout: settings.requestTimeoutMs,
      throwOnRequestTimeout: true,
    },
  });
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}
