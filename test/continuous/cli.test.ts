import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { removeDir, runCli, tempDir } from '../helpers.js';
import { idsIn, Primary, range } from './primary.js';

let dir: string;
let primary: Primary;
beforeEach(async () => {
  dir = tempDir('ats-cont-cli-');
  primary = new Primary(dir);
  await primary.shipper.start();
  for (let i = 0; i < 3; i++) {
    primary.write(2);
    await primary.shipper.sync();
  }
});
afterEach(() => {
  primary.close();
  removeDir(dir);
});

const remote = (): string => path.join(dir, 'remote');

describe('ats restore --at / --position and ats backups --from', () => {
  it('refuses a time without a zone, a bad position, and both at once (exit 2, naming the flag)', async () => {
    const out = path.join(dir, 'out.db');
    const noZone = await runCli([
      'restore',
      '--db',
      out,
      '--from',
      remote(),
      '--at',
      '2026-12-02T10:15:30',
      '--yes',
    ]);
    expect(noZone.code).toBe(2);
    expect(noZone.stderr).toContain('--at 2026-12-02T10:15:30: not an ISO 8601 time with a zone');
    const bad = await runCli(['restore', '--db', out, '--from', remote(), '--position', 'abc/1', '--yes']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--position abc/1');
    const both = await runCli([
      'restore',
      '--db',
      out,
      '--from',
      remote(),
      '--at',
      '2026-12-02T10:15:30Z',
      '--position',
      `${primary.shipper.position?.lineage}/2`,
      '--yes',
    ]);
    expect(both.code).toBe(2);
  });

  it('--id with --at or --position is refused (exit 2, naming both flags), nothing written', async () => {
    const out = path.join(dir, 'out.db');
    const lineage = primary.shipper.position?.lineage as string;
    for (const target of [
      ['--at', new Date().toISOString()],
      ['--position', `${lineage}/2`],
    ]) {
      const run = await runCli([
        'restore',
        '--db',
        out,
        '--from',
        `file://${remote()}`,
        '--id',
        'some-backup',
        ...target,
        '--yes',
      ]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('--id names a snapshot object; --at / --position a continuous point');
      expect(fs.existsSync(out)).toBe(false);
      expect(fs.readdirSync(dir).filter((n) => n.startsWith('out'))).toEqual([]);
    }
  });

  it('a moment before every backup is refused, and nothing is created', async () => {
    const out = path.join(dir, 'out.db');
    const run = await runCli([
      'restore',
      '--db',
      out,
      '--from',
      remote(),
      '--at',
      '2000-01-01T00:00:00Z',
      '--yes',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      'nothing to restore at 2000-01-01T00:00:00.000Z: the oldest backup starts at',
    );
    expect(fs.existsSync(out)).toBe(false);
  });

  it('backups --from lists the lineage; restore --position and --at restore exactly that', async () => {
    const list = await runCli(['backups', '--from', remote()]);
    expect(list.code).toBe(0);
    const lineage = primary.shipper.position?.lineage as string;
    expect(list.stdout).toContain(`lineage ${lineage}`);
    expect(list.stdout).toContain(`snapshot  ${lineage}/1`);
    expect(list.stdout).toContain('continuous  txid 2..4');
    expect(list.stdout).toContain(`newest position ${lineage}/4`);
    const json = JSON.parse((await runCli(['backups', '--from', remote(), '--json'])).stdout) as {
      lineages: { gaps: string[]; restorable: { newestPosition: string } }[];
    };
    expect(json.lineages[0]?.gaps).toEqual([]);
    const out = path.join(dir, 'out.db');
    const run = await runCli([
      'restore',
      '--db',
      out,
      '--from',
      remote(),
      '--position',
      `${lineage}/3`,
      '--yes',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`to position ${lineage}/3`);
    expect(idsIn(out)).toEqual(range(1, 4));
    const now = new Date().toISOString();
    const out2 = path.join(dir, 'out2.db');
    const at = await runCli(['restore', '--db', out2, '--from', remote(), '--at', now, '--yes']);
    expect(at.code).toBe(0);
    expect(idsIn(out2)).toEqual(range(1, 6));
  });
});
