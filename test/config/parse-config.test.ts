import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, parseConfig } from '../../dist/config/index.js';
import { refusal } from '../helpers.js';

const NO_ENV = {};

/** The ConfigError parseConfig throws for `text`, failing the test when it does not throw one. */
function refused(text: string, env: Record<string, string | undefined> = NO_ENV): ConfigError {
  return refusal(() => parseConfig(text, 'am.toml', { env }), ConfigError);
}

describe('parseConfig refuses bad input', () => {
  const cases: {
    name: string;
    text: string;
    key: string | undefined;
    line: number | undefined;
    message: string;
  }[] = [
    {
      name: 'TOML syntax error',
      text: '[Database]\npath = \n',
      key: undefined,
      line: 2,
      message: 'am.toml:2: TOML syntax error at column 8: invalid value',
    },
    {
      name: 'duplicate key',
      text: '[Server]\nport = 1\nport = 2\n',
      key: undefined,
      line: 3,
      message: 'TOML syntax error',
    },
    {
      name: 'negative interval',
      text: '[Database]\n\nbackup_interval_seconds = -5\n',
      key: 'Database.backup_interval_seconds',
      line: 3,
      message: 'am.toml:3: [Database] backup_interval_seconds must be a whole number >= 0 (got -5)',
    },
    {
      name: 'string for a number',
      text: '[Server]\nport = "8080"\n',
      key: 'Server.port',
      line: 2,
      message: 'am.toml:2: [Server] port must be a whole number from 0 to 65535 (got "8080")',
    },
    {
      name: 'float for a whole number',
      text: '[Database]\nbackup_keep = 2.5\n',
      key: 'Database.backup_keep',
      line: 2,
      message: '[Database] backup_keep must be a whole number from 1 to 1000 (got 2.5)',
    },
    {
      name: 'integral float for a whole number',
      text: '[ATS]\nmax_batch = 10.0\n',
      key: 'ATS.max_batch',
      line: 2,
      message: '[ATS] max_batch must be a whole number from 1 to 100000 (got 10.0)',
    },
    {
      name: 'boolean for a number',
      text: '[Pulse]\nticker_interval_seconds = true\n',
      key: 'Pulse.ticker_interval_seconds',
      line: 2,
      message: '[Pulse] ticker_interval_seconds must be a number >= 0.01 (got true)',
    },
    {
      name: 'zero ticker',
      text: '[Pulse]\nticker_interval_seconds = 0\n',
      key: 'Pulse.ticker_interval_seconds',
      line: 2,
      message: 'must be a number >= 0.01 (got 0)',
    },
    {
      name: 'ticker beyond timer range',
      text: '[Pulse]\nticker_interval_seconds = 3e6\n',
      key: 'Pulse.ticker_interval_seconds',
      line: 2,
      message: 'must be a number <= 2147483 (got 3000000.0)',
    },
    {
      name: 'port out of range',
      text: '[Server]\nport = 70000\n',
      key: 'Server.port',
      line: 2,
      message: '[Server] port must be a whole number from 0 to 65535 (got 70000)',
    },
    {
      name: 'keep zero',
      text: '[Database]\nbackup_keep = 0\n',
      key: 'Database.backup_keep',
      line: 2,
      message: 'from 1 to 1000 (got 0)',
    },
    {
      name: 'keep over 1000',
      text: '[Database]\nbackup_keep = 1001\n',
      key: 'Database.backup_keep',
      line: 2,
      message: 'from 1 to 1000 (got 1001)',
    },
    {
      name: 'timeout zero',
      text: '[Database]\nbackup_timeout_seconds = 0\n',
      key: 'Database.backup_timeout_seconds',
      line: 2,
      message: 'backup_timeout_seconds must be a whole number >= 1 (got 0)',
    },
    {
      name: 'WAL cap below twice journal_size_limit',
      text: '[Database]\nmax_wal_bytes = 1048576\n',
      key: 'Database.max_wal_bytes',
      line: 2,
      message: 'max_wal_bytes must be a whole number >= 134217728 (got 1048576)',
    },
    {
      name: 'timeout beyond what the backup engine takes',
      text: '[Database]\nbackup_timeout_seconds = 90000\n',
      key: 'Database.backup_timeout_seconds',
      line: 2,
      message: 'must be a whole number <= 86400 (got 90000)',
    },
    {
      name: 'body limit too small',
      text: '[Server]\nmax_body_bytes = 1023\n',
      key: 'Server.max_body_bytes',
      line: 2,
      message: 'max_body_bytes must be a whole number >= 1024 (got 1023)',
    },
    {
      name: 'per-pair limit zero',
      text: '[ATS]\nmax_per_actor_context = 0\n',
      key: 'ATS.max_per_actor_context',
      line: 2,
      message: 'max_per_actor_context must be a whole number >= 1 (got 0)',
    },
    {
      name: 'unknown verify mode',
      text: '[Database]\nbackup_verify = "fast"\n',
      key: 'Database.backup_verify',
      line: 2,
      message: '[Database] backup_verify must be "quick", "full" or "off" (got "fast")',
    },
    {
      name: 'unknown backup engine',
      text: '[Database]\nbackup_engine = "fast"\n',
      key: 'Database.backup_engine',
      line: 2,
      message: '[Database] backup_engine must be "auto", "block" or "backup-api" (got "fast")',
    },
    {
      name: 'empty path',
      text: '[Database]\npath = ""\n',
      key: 'Database.path',
      line: 2,
      message: '[Database] path must be a non-empty path (got "")',
    },
    {
      name: 'blank backup folder',
      text: '[Database]\nbackup_dir = "  "\n',
      key: 'Database.backup_dir',
      line: 2,
      message: '[Database] backup_dir must be a non-empty path (got "  ")',
    },
    {
      name: 'empty token',
      text: '[Server]\ntoken = ""\n',
      key: 'Server.token',
      line: 2,
      message: '[Server] token must not be empty or only white space',
    },
    {
      name: 'array for a path',
      text: '[Database]\npath = ["a"]\n',
      key: 'Database.path',
      line: 2,
      message: '(got an array)',
    },
    {
      name: 'unknown section',
      text: '# settings\n[Foo]\nx = 1\n',
      key: 'Foo',
      line: 2,
      message: 'am.toml:2: unknown section [Foo] (known sections: [Database], [Pulse], [Server], [ATS])',
    },
    {
      name: 'section in the wrong case',
      text: '[database]\npath = "x.db"\n',
      key: 'database',
      line: 1,
      message: 'unknown section [database] (did you mean [Database]?)',
    },
    {
      name: 'misspelled section',
      text: '[Sever]\nport = 1\n',
      key: 'Sever',
      line: 1,
      message: 'unknown section [Sever] (did you mean [Server]?)',
    },
    {
      name: 'misspelled key',
      text: '[Database]\npath = "x.db"\nbackup_intervall_seconds = 60\n',
      key: 'Database.backup_intervall_seconds',
      line: 3,
      message:
        'am.toml:3: unknown key [Database] backup_intervall_seconds (did you mean backup_interval_seconds?)',
    },
    {
      name: 'key in the wrong case',
      text: '[Server]\nPort = 1\n',
      key: 'Server.Port',
      line: 2,
      message: 'unknown key [Server] Port (did you mean port?)',
    },
    {
      name: 'camelCase key',
      text: '[ATS]\nmaxBatch = 5\n',
      key: 'ATS.maxBatch',
      line: 2,
      message: 'unknown key [ATS] maxBatch (did you mean max_batch?)',
    },
    {
      name: 'key in the wrong section',
      text: '[Server]\nbackup_keep = 3\n',
      key: 'Server.backup_keep',
      line: 2,
      message: 'unknown key [Server] backup_keep (backup_keep belongs in [Database])',
    },
    {
      name: 'unknown key, nothing close',
      text: '[Pulse]\ncolour = "red"\n',
      key: 'Pulse.colour',
      line: 2,
      message: 'unknown key [Pulse] colour (known keys: ticker_interval_seconds)',
    },
    {
      name: 'key outside any section',
      text: 'port = 1\n',
      key: 'port',
      line: 1,
      message: 'key port is outside any section (it belongs in [Server])',
    },
    {
      name: 'section that is not a table',
      text: 'Server = 5\n',
      key: 'Server',
      line: 1,
      message: '[Server] must be a table (got 5)',
    },
    {
      name: 'nested table',
      text: '[Database.extra]\nx = 1\n',
      key: 'Database.extra',
      line: 1,
      message: 'unknown key [Database] extra',
    },
    {
      name: 'dotted key',
      text: 'Database.backup_keep = -1\n',
      key: 'Database.backup_keep',
      line: 1,
      message: '(got -1)',
    },
    {
      name: 'non-loopback host without token',
      text: '[Server]\nhost = "0.0.0.0"\n',
      key: 'Server.host',
      line: 2,
      message: 'am.toml:2: [Server] host 0.0.0.0 is not loopback: set [Server] token or ATS_TOKEN',
    },
    {
      name: 'LAN address without token',
      text: '[Server]\nport = 1\nhost = "192.168.1.10"\n',
      key: 'Server.host',
      line: 3,
      message: 'is not loopback',
    },
    {
      name: 'IPv6 any without token',
      text: '[Server]\nhost = "::"\n',
      key: 'Server.host',
      line: 2,
      message: '[Server] host :: is not loopback',
    },
    {
      name: 'host name without token',
      text: '[Server]\nhost = "example.com"\n',
      key: 'Server.host',
      line: 2,
      message: 'is not loopback',
    },
  ];

  it.each(cases)('$name', ({ text, key, line, message }) => {
    const err = refused(text);
    expect(err.code).toBe('ATS_CONFIG_INVALID');
    expect(err.file).toBe('am.toml');
    expect(err.key).toBe(key);
    expect(err.line).toBe(line);
    expect(err.message).toContain(message);
    if (line !== undefined) expect(err.message.startsWith(`am.toml:${line}: `)).toBe(true);
  });

  it('gives the column of a syntax error', () => {
    const err = refused('[Database]\npath = \n');
    expect(err.column).toBe(8);
    expect(err.cause).toBeInstanceOf(Error);
  });

  it('reports the first problem in file order', () => {
    expect(refused('[Server]\nport = -1\n[Database]\nbackup_keep = 0\n').key).toBe('Server.port');
  });

  it('names the file as given', () => {
    expect(() => parseConfig('[Foo]\n', 'conf/site.toml', { env: NO_ENV })).toThrow(
      /^conf\/site\.toml:1: unknown section \[Foo\]/,
    );
  });
});

describe('parseConfig defaults and values', () => {
  it('applies every default to an empty file, resolving paths against its folder', () => {
    const config = parseConfig('', '/etc/ats/am.toml', { env: NO_ENV });
    expect(config).toEqual({
      file: '/etc/ats/am.toml',
      database: {
        path: '/etc/ats/data/ats.db',
        backupIntervalSeconds: 3600,
        backupKeep: 2,
        backupDir: '/etc/ats/data',
        backupVerify: 'quick',
        backupEngine: 'auto',
        backupTimeoutSeconds: 3600,
        destinations: [],
        maxWalBytes: 268_435_456,
      },
      pulse: { tickerIntervalSeconds: 1 },
      server: {
        host: '127.0.0.1',
        port: 8787,
        token: undefined,
        maxBodyBytes: 1_048_576,
        maxConnections: 256,
        requestTimeoutSeconds: 30,
        shutdownGraceSeconds: 10,
      },
      ats: { maxPerActorContext: 64, maxBatch: 1000 },
    });
  });

  it('exposes the defaults as a frozen constant', () => {
    expect(DEFAULTS.database.path).toBe('./data/ats.db');
    expect(DEFAULTS.database.backupDir).toBeUndefined();
    expect(DEFAULTS.server.port).toBe(8787);
    expect(Object.isFrozen(DEFAULTS)).toBe(true);
    expect(Object.isFrozen(DEFAULTS.database)).toBe(true);
  });

  it('reads every key', () => {
    const config = parseConfig(
      [
        '[Database]',
        'path = "db/main.db"',
        'backup_interval_seconds = 0',
        'backup_keep = 5',
        'backup_dir = "/var/backups/ats"',
        'backup_verify = "full"',
        'backup_engine = "backup-api"',
        'backup_timeout_seconds = 600',
        'max_wal_bytes = 268435456',
        '[Pulse]',
        'ticker_interval_seconds = 0.2',
        '[Server]',
        'host = "0.0.0.0"',
        'port = 0',
        'token = "s3cret"',
        'max_body_bytes = 2048',
        '[ATS]',
        'max_per_actor_context = 3',
        'max_batch = 100000',
      ].join('\n'),
      '/srv/ats/am.toml',
      { env: { ATS_TOKEN: 'from-env' } },
    );
    expect(config.database).toEqual({
      path: '/srv/ats/db/main.db',
      backupIntervalSeconds: 0,
      backupKeep: 5,
      backupDir: '/var/backups/ats',
      backupVerify: 'full',
      backupEngine: 'backup-api',
      backupTimeoutSeconds: 600,
      destinations: [],
      maxWalBytes: 268435456,
    });
    expect(config.pulse.tickerIntervalSeconds).toBe(0.2);
    expect(config.server).toEqual({
      host: '0.0.0.0',
      port: 0,
      token: 's3cret',
      maxBodyBytes: 2048,
      maxConnections: 256,
      requestTimeoutSeconds: 30,
      shutdownGraceSeconds: 10,
    });
    expect(config.ats).toEqual({ maxPerActorContext: 3, maxBatch: 100000 });
  });

  it('freezes the config and every nested object', () => {
    const config = parseConfig('', '/x/am.toml', { env: NO_ENV });
    for (const part of [config, config.database, config.pulse, config.server, config.ats])
      expect(Object.isFrozen(part)).toBe(true);
  });

  it('resolves a relative file name against the working folder', () => {
    const config = parseConfig('[Database]\nbackup_dir = "../bk"\n', 'conf/am.toml', { env: NO_ENV });
    expect(config.file).toBe(path.resolve('conf/am.toml'));
    expect(config.database.path).toBe(path.resolve('conf/data/ats.db'));
    expect(config.database.backupDir).toBe(path.resolve('bk'));
  });

  it('takes the token from ATS_TOKEN when the file has none, and the file over the environment', () => {
    expect(parseConfig('', '/x/am.toml', { env: { ATS_TOKEN: 'abc' } }).server.token).toBe('abc');
    expect(
      parseConfig('[Server]\ntoken = "file"\n', '/x/am.toml', { env: { ATS_TOKEN: 'abc' } }).server.token,
    ).toBe('file');
    expect(parseConfig('', '/x/am.toml', { env: { ATS_TOKEN: '' } }).server.token).toBeUndefined();
  });

  it('accepts a non-loopback host when a token is set in the file or the environment', () => {
    expect(
      parseConfig('[Server]\nhost = "0.0.0.0"\ntoken = "t"\n', '/x/am.toml', { env: NO_ENV }).server.host,
    ).toBe('0.0.0.0');
    expect(
      parseConfig('[Server]\nhost = "0.0.0.0"\n', '/x/am.toml', { env: { ATS_TOKEN: 't' } }).server.token,
    ).toBe('t');
  });

  it.each(['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', 'localhost', 'LocalHost'])(
    'treats %s as loopback',
    (host) => {
      expect(parseConfig(`[Server]\nhost = "${host}"\n`, '/x/am.toml', { env: NO_ENV }).server.host).toBe(
        host,
      );
    },
  );

  it('accepts a database named like a backup generation: its own generations get other names', () => {
    const config = parseConfig(
      '[Database]\npath = "a/ats.db.bak1"\nbackup_dir = "a"\nbackup_keep = 3\n',
      '/x/am.toml',
      { env: NO_ENV },
    );
    expect(config.database.path).toBe('/x/a/ats.db.bak1');
    expect(config.database.backupDir).toBe('/x/a');
  });
});
