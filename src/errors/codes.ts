// Every error code ats gives, in one table: a code is `ATS_<PART>_<WHAT>`, so no two parts share
// one and none can be mistaken for an errno name (EBUSY, EINVAL...). README lists the same codes,
// and a test keeps the two equal.

/** What a code means, how the CLI exits with it, and the HTTP status it answers with (if any). */
export interface ErrorCodeInfo {
  /** Process exit code: 1 the operation failed, 2 a usage or configuration mistake. */
  readonly exit: 1 | 2;
  /** HTTP status when it reaches a client; absent for errors no route can give. */
  readonly status?: number;
  readonly means: string;
}

/** The table of every ats error code. */
export const ERROR_CODES = Object.freeze({
  // cli
  ATS_CLI_USAGE: { exit: 2, means: 'the command was called wrongly (the message says what to type instead)' },
  ATS_CLI_STARTUP: { exit: 1, means: 'the service or a restore will not start on this database' },
  // config
  ATS_CONFIG_INVALID: { exit: 2, means: 'am.toml or an ATS_* variable cannot be read or does not validate' },
  // store
  ATS_STORE_INVALID: { exit: 2, status: 400, means: 'bad input to the store: attestation, query or path' },
  ATS_STORE_OVER_BUDGET: {
    exit: 2,
    status: 413,
    means: 'a request within every per-field cap but over the cost budget (pair rows, attributes bytes)',
  },
  ATS_STORE_OPEN: { exit: 1, status: 500, means: 'the database could not be created, opened or migrated' },
  ATS_STORE_SCHEMA: { exit: 1, status: 500, means: 'the database was written by a newer ats' },
  ATS_STORE_BUSY: { exit: 1, status: 503, means: 'another connection held the write lock too long' },
  ATS_STORE_FULL: { exit: 1, status: 507, means: 'the disk (or the file size limit) is full' },
  ATS_STORE_WAL_CAP: {
    exit: 1,
    status: 503,
    means: 'writes are paused: the WAL is over [Database] max_wal_bytes until checkpoints bring it back',
  },
  ATS_STORE_DB: { exit: 1, status: 500, means: 'any other SQLite or I/O error' },
  ATS_STORE_CLOSED: { exit: 1, status: 503, means: 'the store was used after close() (shutting down)' },
  // backup
  ATS_BACKUP_INVALID: { exit: 2, means: 'bad backup option or path' },
  ATS_BACKUP_SOURCE: { exit: 1, means: 'the source is missing, unreadable or not a database' },
  ATS_BACKUP_DEST: { exit: 1, means: 'the backup folder is missing, not a folder or not writable' },
  ATS_BACKUP_LOCKED: { exit: 1, status: 409, means: 'another backup of the same target is running' },
  ATS_BACKUP_BUSY: { exit: 1, means: 'the source stayed locked past the busy deadline' },
  ATS_BACKUP_LOCK_BUDGET: {
    exit: 1,
    means: 'rollback-journal source: the copy would block writers too long (switch to WAL)',
  },
  ATS_BACKUP_COPY: { exit: 1, means: 'SQLite or I/O error while copying' },
  ATS_BACKUP_VERIFY: { exit: 1, means: 'the copy (or the backup) failed its integrity check' },
  ATS_BACKUP_ROTATE: { exit: 1, means: 'a rename or fsync during rotation failed' },
  ATS_BACKUP_CANCELLED: { exit: 1, means: 'cancelled by a signal or the deadline' },
  ATS_BACKUP_WORKER: { exit: 1, means: 'the copy worker crashed' },
  ATS_BACKUP_LINEAGE: {
    exit: 1,
    means: 'the backups there belong to another database: rotation will not replace them',
  },
  ATS_BACKUP_IN_USE: { exit: 1, means: 'restore: another process or connection has the database open' },
  ATS_BACKUP_OBJECT: {
    exit: 1,
    means: 'a remote backup object is damaged, truncated or not an ats backup (checksum, length or header)',
  },
  ATS_BACKUP_KEY: {
    exit: 2,
    means: 'the encryption key is missing, unreadable, malformed or not the one the object needs',
  },
  ATS_BACKUP_REMOTE: {
    exit: 1,
    means: 'a destination (S3 server, remote folder) failed or refused, after retries',
  },
  ATS_BACKUP_FORMAT: {
    exit: 1,
    means: 'a continuous-backup object is short, truncated or not an ats object',
  },
  ATS_BACKUP_CHECKSUM: {
    exit: 1,
    means: "an object's SHA-256, or a rebuilt database's rolling checksum, does not match the primary's",
  },
  ATS_BACKUP_GAP: {
    exit: 1,
    means: 'the chain from a snapshot to the restore target misses a range of transactions',
  },
  ATS_BACKUP_NO_BACKUP: {
    exit: 1,
    means: 'no continuous backup at the destination covers the restore target',
  },
  // http
  ATS_HTTP_INVALID: { exit: 2, status: 400, means: 'the body, query or path does not match the schema' },
  ATS_HTTP_BAD_JSON: {
    exit: 2,
    status: 400,
    means: 'the body is not JSON, not UTF-8, or holds a forbidden key',
  },
  ATS_HTTP_BAD_REQUEST: { exit: 2, status: 400, means: 'any other malformed request (headers, length, URL)' },
  ATS_HTTP_UNAUTHORIZED: { exit: 2, status: 401, means: 'missing or wrong bearer token' },
  ATS_HTTP_NOT_FOUND: { exit: 2, status: 404, means: 'no such route or attestation' },
  ATS_HTTP_TIMEOUT: { exit: 1, status: 408, means: 'the request did not arrive within the request timeout' },
  ATS_HTTP_CONFLICT: { exit: 1, status: 409, means: 'the resource is busy (a backup is already running)' },
  ATS_HTTP_BODY_TOO_LARGE: { exit: 2, status: 413, means: 'the body is over max_body_bytes' },
  ATS_HTTP_HEADERS_TOO_LARGE: { exit: 2, status: 431, means: 'the request headers are over 16 KiB' },
  ATS_HTTP_UNSUPPORTED_MEDIA_TYPE: { exit: 2, status: 415, means: 'a body that is not application/json' },
  ATS_HTTP_UNAVAILABLE: { exit: 1, status: 503, means: 'the service is shutting down' },
  ATS_HTTP_OFFSITE_TIMEOUT: {
    exit: 1,
    status: 504,
    means: "the write is committed here but was not confirmed off-site within the wait's timeout",
  },
  ATS_HTTP_OFFSITE_FAILED: {
    exit: 1,
    status: 503,
    means: 'the write is committed here but the continuous destination failed before it was off-site',
  },
  ATS_HTTP_OFFSITE_UNKNOWN: {
    exit: 2,
    status: 404,
    means:
      'no continuous destination, or a position this server did not hand out (other lineage, not committed)',
  },
  ATS_HTTP_INTERNAL: {
    exit: 1,
    status: 500,
    means: 'an unexpected error; details are in the server log only',
  },
} satisfies Record<string, ErrorCodeInfo>);

/** Any ats error code. */
export type AtsErrorCode = keyof typeof ERROR_CODES;
