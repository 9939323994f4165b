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
