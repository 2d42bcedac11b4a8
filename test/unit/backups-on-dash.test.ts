// The scripts that read and prune the backups, run under dash against a
// temporary backups directory, and read back by their parsers.
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parsePruneOutput, pruneScript } from '../../src/apply/backups.js';
import { backupsScript, parseBackupsOutput } from '../../src/facts/backups.js';
import { isRoot, NEEDS_ROOT, removeScratch, runDash, scratch } from '../support/dash.js';

const IDS = ['2026-01-01T00-00-00-000Z', '2026-01-02T00-00-00-000Z', '2026-01-03T00-00-00-000Z'];

describe('backupsScript and pruneScript under dash', () => {
  let dir: string;
  let root: string;
  let config: string;
  beforeEach(() => {
    dir = scratch();
    root = join(dir, 'backups');
    config = join(dir, 'meet.test.cfg.lua');
    writeFileSync(config, 'now\n');
    for (const id of IDS) {
      mkdirSync(join(root, id), { recursive: true });
      writeFileSync(join(root, id, 'file-0'), `before ${id}\n`);
      writeFileSync(join(root, id, 'manifest'), `file\t${config}\t${join(root, id, 'file-0')}\nnew\t${join(dir, 'key.pem')}\n`);
    }
    mkdirSync(join(root, 'notes'));
  });
  afterEach(() => removeScratch(dir));

  it('lists the backups, newest first, and reads the chosen one and the files it names', () => {
    const result = runDash(backupsScript('latest', root));
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const reading = parseBackupsOutput(result.stdout)!;
    expect(reading.backups.map((b) => b.id)).toEqual([...IDS].reverse());
    expect(reading.chosen?.backup.id).toBe(IDS[2]);
    expect(reading.chosen?.saved.get(config)?.text).toBe(`before ${IDS[2]}\n`);
    expect(reading.chosen?.current.get(config)?.text).toBe('now\n');
    expect(reading.chosen?.current.get(join(dir, 'key.pem'))).toBeUndefined();
  });

  it('reads a lost saved copy as missing', () => {
    rmSync(join(root, IDS[0], 'file-0'));
    const reading = parseBackupsOutput(runDash(backupsScript(IDS[0], root)).stdout)!;
    expect(reading.chosen?.backup.id).toBe(IDS[0]);
    expect(reading.chosen?.saved.has(config)).toBe(true);
    expect(reading.chosen?.saved.get(config)).toBeUndefined();
  });

  it('chooses nothing for a name that is not a backup\'s', () => {
    const reading = parseBackupsOutput(runDash(backupsScript("../x'; rm -rf /; '", root)).stdout)!;
    expect(reading.backups).toHaveLength(3);
    expect(reading.chosen).toBeUndefined();
  });

  it('prunes all but the newest, and only directories named like backups', () => {
    const result = runDash(pruneScript(1, root));
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(parsePruneOutput(result.stdout)).toEqual({ removed: IDS.slice(0, 2), complete: true });
    expect(readdirSync(root).sort()).toEqual([IDS[2], 'notes']);
  });

  it('does nothing where there are no backups', () => {
    const result = runDash(pruneScript(1, join(dir, 'none')));
    expect(result).toMatchObject({ code: 0, stdout: '' });
    expect(existsSync(join(dir, 'none'))).toBe(false);
  });
});

describe('what backupsScript and pruneScript do when the disk fails them', () => {
  let dir: string;
  let root: string;
  beforeEach(() => {
    dir = scratch();
    root = join(dir, 'backups');
    for (const id of IDS) {
      mkdirSync(join(root, id), { recursive: true });
      writeFileSync(join(root, id, 'file-0'), 'saved\n');
      writeFileSync(join(root, id, 'manifest'), `file\t${join(dir, 'config')}\t${join(root, id, 'file-0')}\n`);
    }
    writeFileSync(join(dir, 'config'), 'now\n');
  });
  afterEach(() => removeScratch(dir));

  it('reads a saved copy it cannot read as missing, not as an empty file', () => {
    // base64 fails on the saved copies, as a read error would.
    const base64 = `for a; do :; done; case "$a" in */file-0) exit 1 ;; esac; exec /usr/bin/base64 "$@"`;
    const reading = parseBackupsOutput(runDash(backupsScript('latest', root), { stubs: { base64 } }).stdout)!;
    expect(reading.chosen?.saved.has(join(dir, 'config'))).toBe(true);
    expect(reading.chosen?.saved.get(join(dir, 'config'))).toBeUndefined();
    expect(reading.chosen?.current.get(join(dir, 'config'))?.text).toBe('now\n');
  });

  // Not as an unprivileged user: the script's own chmod 700 would make a mode-555 directory writable again.
  it.skipIf(!isRoot)('fails, and reports nothing as removed, when the backups cannot be removed', () => {
    const result = runDash(pruneScript(1, root), { readOnly: [root] });
    expect(result.code).not.toBe(0);
    expect(parsePruneOutput(result.stdout)).toEqual({ removed: [], complete: true });
    expect(readdirSync(root).sort()).toEqual(IDS);
  });
  if (!isRoot) it.skip(`fails when the backups cannot be removed (${NEEDS_ROOT})`, () => {});
});
