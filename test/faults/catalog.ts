// Every fault and bad input the suite injects, with how many trials it runs. The tests take their
// counts from here, and docs/RELIABILITY.md is checked against it, so the two cannot drift apart.
export const FAULTS = {
  'kill-at-step': {
    trials: 6,
    fault:
      'SIGKILL at each named step of a backup: mid-copy, copy done, verified, before rotation, mid-rotation, after the final rename',
  },
  'kill-at-random': { trials: 30, fault: 'SIGKILL of `ats backup` at a random moment of a backup' },
  'kill-leaves-tmp': { trials: 1, fault: 'SIGKILL after verification, leaving a verified temporary copy' },
  'kill-restore': {
    trials: 12,
    fault:
      'SIGKILL at each step of `ats restore` (database taken, mid-copy, copied, set aside, renamed, kept), in WAL mode with committed rows only in the -wal and in rollback-journal mode with a hot journal',
  },
  'restore-in-use': {
    trials: 5,
    fault:
      '`ats restore` while the database is open: a service under a symlinked name, through a bind mount of the file, through a hard link, an idle better-sqlite3 connection in WAL and in rollback-journal mode',
  },
  'restore-from-wal': {
    trials: 2,
    fault: '`ats restore --from` a WAL-mode file whose -wal holds committed rows; the undo of a restore',
  },
  'restore-self': {
    trials: 2,
    fault: '`ats restore --from` the database itself through a symlink and a hard link',
  },
  'missing-db-at-start': {
    trials: 2,
    fault: '`ats serve` with backups present and the database missing or 0 bytes',
  },
  'foreign-backups': {
    trials: 3,
    fault:
      'generations of another database with the same file name: a second service, `ats backup --out`, plain databases',
  },
  'future-backup': { trials: 2, fault: 'newest backup dated in the future (file time, recorded time)' },
  'one-off-prune': {
    trials: 4,
    fault:
      '`ats backup` over 7 generations: with the service am.toml, without one, with --keep 3; the service dropping bak2',
  },
  'not-a-database': {
    trials: 7,
    fault:
      'a 0-byte file, /proc/self/status, a truncated file, a file without a header to verify; a 0-byte generation to list; both to restore',
  },
  'cancel-before-rotate': { trials: 1, fault: 'SIGTERM to `ats backup --verify full` during verification' },
  'cancel-restore': { trials: 1, fault: 'SIGTERM to `ats restore` after its copy is checked' },
  'restore-checksum': {
    trials: 1,
    fault: 'a backup changed on disk since it was taken, quick_check still ok',
  },
  'reader-without-folder-write': {
    trials: 2,
    fault: '`ats verify` and `ats backup` of an idle WAL database by a user who cannot write its folder',
  },
  'sigterm-service': { trials: 1, fault: 'SIGTERM to `ats serve` during a backup' },
  cancel: { trials: 1, fault: 'AbortSignal during a copy' },
  'file-size-limit': { trials: 1, fault: 'RLIMIT_FSIZE below the backup size (EFBIG)' },
  'disk-full': { trials: 1, fault: 'backup folder on a full filesystem (ENOSPC, small tmpfs)' },
  'folder-read-only': { trials: 1, fault: 'backup folder on a read-only filesystem' },
  'folder-missing': { trials: 1, fault: 'backup folder missing' },
  'folder-is-file': { trials: 1, fault: 'backup folder is a file' },
  'source-missing': { trials: 1, fault: 'source database missing' },
  'source-not-db': { trials: 1, fault: 'source is not a database' },
  'source-corrupt': { trials: 1, fault: 'source corrupted on an index page' },
  'source-exclusive-lock': {
    trials: 1,
    fault: 'rollback-journal source held by BEGIN EXCLUSIVE past the busy timeout',
  },
  'source-long-write': { trials: 1, fault: 'rollback-journal source held by a long write transaction' },
  'lock-budget': { trials: 1, fault: 'rollback-journal copy exceeding its read-lock budget' },
  'second-backup': { trials: 1, fault: 'a second process holding the backup lock' },
  'second-service': { trials: 1, fault: 'a second `ats serve` on the same database' },
  'restore-corrupt': { trials: 1, fault: 'restore of a corrupt backup' },
  'restore-while-serving': { trials: 1, fault: 'restore while the service runs' },
  'corrupt-at-start': { trials: 1, fault: 'service start on a database that fails quick_check' },
  'bad-config': {
    trials: 12,
    fault:
      'bad am.toml: syntax, types, ranges, unknown keys/sections, empty path, non-loopback without token, missing or folder path',
  },
  'bad-cli': {
    trials: 10,
    fault: 'bad CLI arguments: missing, malformed, out of range, unknown, conflicting, unconfirmed restore',
  },
  'bad-http': {
    trials: 18,
    fault:
      'bad HTTP bodies: malformed JSON, wrong types, missing/unknown fields, empty arrays, huge strings and bodies, wrong content type',
  },
} as const satisfies Record<string, { trials: number; fault: string }>;
