// [[Database.destination]] in am.toml: each table checked with its own line, paths resolved
// against the file's folder; mistakes are ConfigErrors naming file:line and the key.
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../dist/config/index.js';
import { refusal } from '../helpers.js';

const parse = (text: string) => parseConfig(text, '/etc/ats/am.toml', { env: {} });
const NOT_CONTINUOUS = { continuous: false, syncIntervalSeconds: 1, snapshotIntervalSeconds: 86_400 };

describe('[[Database.destination]]', () => {
  it('reads several destinations, each with its own retention and key, paths against the file', () => {
    const config = parse(
      '[Database]\npath = "a.db"\n\n[[Database.destination]]\nurl = "s3://b-1/ats/prod"\nkeep = 24\n\n' +
        '[[Database.destination]]\nurl = "file:///mnt/other/ats"\nkeep_days = 7\nencryption_key_file = "keys/k"\n',
    );
    expect(config.database.destinations).toEqual([
      {
        url: 's3://b-1/ats/prod',
        keep: 24,
        keepDays: undefined,
        encryptionKeyFile: undefined,
        ...NOT_CONTINUOUS,
      },
      {
        url: 'file:///mnt/other/ats',
        keep: undefined,
        keepDays: 7,
        encryptionKeyFile: '/etc/ats/keys/k',
        ...NOT_CONTINUOUS,
      },
    ]);
    expect(Object.isFrozen(config.database.destinations[0])).toBe(true);
  });

  it('a continuous destination may have an encryption key (its segments and snapshots are encrypted)', () => {
    const config = parse(
      '[Database]\npath = "a.db"\n\n[[Database.destination]]\nurl = "remote"\ncontinuous = true\nencryption_key_file = "k"\n',
    );
    expect(config.database.destinations[0]).toMatchObject({
      url: 'file:///etc/ats/remote',
      continuous: true,
      encryptionKeyFile: '/etc/ats/k',
    });
  });

  it.each([
    [
      'an unknown key',
      'url = "s3://bucket/x"\nkepe = 3',
      6,
      /unknown key \[\[Database\.destination\]\] kepe \(did you mean keep\?\)/,
    ],
    [
      'a malformed URL',
      'url = "http://bucket/x"',
      5,
      /url must be s3:\/\/BUCKET\/PREFIX, file:\/\/\/FOLDER or a folder path \(got "http:\/\/bucket\/x"\)/,
    ],
    [
      'a misspelled continuous key',
      'url = "b"\ncontinous = true',
      6,
      /unknown key \[\[Database\.destination\]\] continous \(did you mean continuous\?\)/,
    ],
    [
      'continuous as text',
      'url = "b"\ncontinuous = "yes"',
      6,
      /continuous must be true or false \(got "yes"\)/,
    ],
    [
      'sync_interval_seconds 0',
      'url = "b"\nsync_interval_seconds = 0',
      6,
      /sync_interval_seconds must be a number > 0 \(got 0\)/,
    ],
    [
      'a negative snapshot_interval_seconds',
      'url = "b"\nsnapshot_interval_seconds = -1',
      6,
      /snapshot_interval_seconds must be a whole number >= 0/,
    ],
    ['a bad bucket', 'url = "s3://B/x"', 5, /url has bucket "B", not a valid bucket name/],
    ['no url', 'keep = 3', 4, /#1 has no url/],
    [
      'keep 0',
      'url = "s3://bucket/x"\nkeep = 0',
      6,
      /keep must be a whole number from 1 to 100000 \(got 0\)/,
    ],
    ['keep_days as text', 'url = "s3://bucket/x"\nkeep_days = "7"', 6, /keep_days must be a whole number/],
  ])('refuses %s with its line', (_what, body, line, message) => {
    const err = refusal(
      () => parse(`[Database]\npath = "a.db"\n\n[[Database.destination]]\n${body}\n`),
      ConfigError,
    );
    expect(err.message).toMatch(message);
    expect(err.line).toBe(line);
    expect(err.message.startsWith(`/etc/ats/am.toml:${line}: `)).toBe(true);
  });

  it('reads the continuous keys with their defaults; a folder path becomes a file URL against the file', () => {
    const config = parse(
      '[[Database.destination]]\nurl = "offsite"\ncontinuous = true\n\n[[Database.destination]]\nurl = "s3://bucket/ats/prod"\nsync_interval_seconds = 0.5\nsnapshot_interval_seconds = 0\n',
    );
    expect(config.database.destinations).toEqual([
      {
        url: pathToFileURL('/etc/ats/offsite').href,
        keep: undefined,
        keepDays: undefined,
        encryptionKeyFile: undefined,
        continuous: true,
        syncIntervalSeconds: 1,
        snapshotIntervalSeconds: 86_400,
      },
      {
        url: 's3://bucket/ats/prod',
        keep: undefined,
        keepDays: undefined,
        encryptionKeyFile: undefined,
        continuous: false,
        syncIntervalSeconds: 0.5,
        snapshotIntervalSeconds: 0,
      },
    ]);
    expect(parse('').database.destinations).toEqual([]);
  });

  it('refuses a URL given twice, on the line of the second', () => {
    const err = refusal(
      () =>
        parse(
          '[[Database.destination]]\nurl = "s3://bucket/x"\n\n[[Database.destination]]\nurl = "s3://bucket/x"\n',
        ),
      ConfigError,
    );
    expect(err.message).toMatch(/url s3:\/\/bucket\/x is given twice \(#1 and #2\)/);
    expect(err.line).toBe(5);
  });
});
