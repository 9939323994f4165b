import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../dist/config/index.js';
import { refusal } from '../helpers.js';

const parse = (text: string) => parseConfig(text, '/srv/ats/am.toml', { env: {} });

describe('[[Database.destination]]', () => {
  it('refuses bad destinations, naming the key and the value', () => {
    const cases: [string, RegExp][] = [
      [
        '[[Database.destination]]\ncontinuous = true\n',
        /#1 url must be a non-empty string \(got undefined\)/,
      ],
      [
        '[[Database.destination]]\nurl = "b"\ncontinous = true\n',
        /unknown key continous \(did you mean continuous\?\)/,
      ],
      [
        '[[Database.destination]]\nurl = "b"\ncontinuous = "yes"\n',
        /continuous must be true or false \(got "yes"\)/,
      ],
      [
        '[[Database.destination]]\nurl = "b"\nsync_interval_seconds = 0\n',
        /sync_interval_seconds must be a number > 0 \(got 0\)/,
      ],
      [
        '[[Database.destination]]\nurl = "b"\nsnapshot_interval_seconds = -1\n',
        /snapshot_interval_seconds must be a whole number >= 0/,
      ],
      [
        '[[Database.destination]]\nurl = "gs://x"\n',
        /url must be a folder path, file:\/\/\/\.\.\. or s3:\/\/bucket\/prefix/,
      ],
      ['[Database]\ndestination = "x"\n', /must be an array of tables/],
    ];
    for (const [text, message] of cases) {
      const err = refusal(() => parse(text), ConfigError);
      expect(err.message).toMatch(message);
      expect(err.message).toContain('[Database] destination');
    }
  });

  it('applies defaults and resolves folder paths against the config file', () => {
    const config = parse(
      '[[Database.destination]]\nurl = "offsite"\ncontinuous = true\n\n[[Database.destination]]\nurl = "s3://bucket/ats/prod"\nsync_interval_seconds = 0.5\nsnapshot_interval_seconds = 0\n',
    );
    expect(config.database.destinations).toEqual([
      {
        url: path.resolve('/srv/ats/offsite'),
        continuous: true,
        syncIntervalSeconds: 1,
        snapshotIntervalSeconds: 86_400,
      },
      {
        url: 's3://bucket/ats/prod',
        continuous: false,
        syncIntervalSeconds: 0.5,
        snapshotIntervalSeconds: 0,
      },
    ]);
    expect(parse('').database.destinations).toEqual([]);
    expect(Object.isFrozen(config.database.destinations[0])).toBe(true);
  });
});
