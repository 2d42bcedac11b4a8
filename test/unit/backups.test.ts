// Backups as tables: names, pruning, manifests, what the backups script
// prints (and the script itself, run under dash), which backups restore
// trusts and what it may put back, and the restore plan made from a backup
// and the host's state.
import type { ShellScript } from '../../src/shell/script.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePruneOutput, pruneScript } from '../../src/apply/backups.js';
import {
  backupsScript,
  backupStamp,
  backupTime,
  isBackupId,
  normaliseBackupChoice,
  parseBackupsOutput,
  parseManifest,
  type BackupContents,
  type FileCopy,
  type LinkState,
  type PathOwnership,
} from '../../src/facts/backups.js';
import { checkBackupRoot, checkRestorable } from '../../src/plan/backup-trust.js';
import { isEmpty } from '../../src/plan/changes.js';
import { planRestore } from '../../src/plan/restore.js';
import { DOMAIN, SECRET, facts, plan, stockText } from '../support/plan-fixtures.js';

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const ROOT = '/var/backups/jitsi-jwt';
const CONFIG = `/etc/prosody/conf.avail/${DOMAIN}.cfg.lua`;
const BASEXX = '/usr/local/share/lua/5.4/basexx.lua';
const INSPECT = '/usr/local/share/lua/5.4/inspect.lua';

describe('backup names', () => {
  it('are the run start in UTC, sortable, and read back', () => {
    const id = backupStamp(new Date('2026-11-27T20:56:46.981Z'));
    expect(id).toBe('2026-11-27T20-56-46-981Z');
    expect(isBackupId(id)).toBe(true);
    expect(backupTime(id)).toBe('2026-11-27T20:56:46.981Z');
    expect(backupStamp(new Date('2026-11-27T20:56:47.000Z')) > id).toBe(true);
  });

  it.each(['latest', 'notes', '2026-11-27T20:56:46.981Z', '2026-11-27T20-56-46Z', '../2026-11-27T20-56-46-981Z', '2026-11-27T20-56-46-981Z.old'])('%j is not one', (text) => {
    expect(isBackupId(text)).toBe(false);
  });

  it.each([
    ['2026-11-27T20-56-46-981Z', '2026-11-27T20-56-46-981Z'],
    [`${ROOT}/2026-11-27T20-56-46-981Z/`, '2026-11-27T20-56-46-981Z'],
    [' latest ', 'latest'],
  ])('--backup %j names %j', (text, choice) => {
    expect(normaliseBackupChoice(text)).toBe(choice);
  });
});

describe('parseManifest', () => {
  it.each([
    [[`file\t${CONFIG}\t${ROOT}/x/file-0`], [{ kind: 'file', path: CONFIG, saved: `${ROOT}/x/file-0` }]],
    [[`link\t${BASEXX}`], [{ kind: 'link', path: BASEXX }]],
    [[`unlink\t${BASEXX}\t/usr/share/lua/5.1/basexx.lua`], [{ kind: 'unlink', path: BASEXX, target: '/usr/share/lua/5.1/basexx.lua' }]],
    [['', 'file', `file\t${CONFIG}`, 'unlink\t/x', 'other\t/y\t/z'], []],
  ])('%j', (lines, entries) => {
    expect(parseManifest(lines)).toEqual(entries);
  });
});

describe('pruneScript', () => {
  it('keeps at least one, and reports what it removed', () => {
    expect(() => pruneScript(0)).toThrow();
    expect(pruneScript(3).text).toContain('[ $# -gt 3 ]');
    expect(parsePruneOutput('@@removed 2026-01-01T00-00-00-000Z\n@@removed 2026-01-02T00-00-00-000Z\n@@end\n')).toEqual({
      removed: ['2026-01-01T00-00-00-000Z', '2026-01-02T00-00-00-000Z'],
      complete: true,
    });
    expect(parsePruneOutput('@@removed 2026-01-01T00-00-00-000Z\n').complete).toBe(false);
  });
});

const OLD = '2026-01-01T10-00-00-000Z';
const NEW = '2026-01-02T10-00-00-000Z';

function listing(chosen: string[] = []): string {
  return [
    'probe output that is not ours',
    '@@backups',
    '@@root\tdir\t700\t0\troot',
    `@@backup\t${OLD}\tdir\t700\t0\troot`,
    `@@entry\tfile\t${CONFIG}\t${ROOT}/${OLD}/file-0`,
    `@@entry\tlink\t${BASEXX}`,
    `@@entry\tlink\t${INSPECT}`,
    `@@backup\t${NEW}\tdir\t755\t1000\tdeploy`,
    `@@entry\tfile\t${CONFIG}\t${ROOT}/${NEW}/file-0`,
    `@@entry\tunlink\t${BASEXX}\t/usr/share/lua/5.1/basexx.lua`,
    '@@backup\tnot-a-stamp',
    `@@entry\tfile\t/etc/passwd\t/tmp/x`,
    ...chosen,
    '@@end',
    '',
  ].join('\n');
}

describe('parseBackupsOutput', () => {
  it('lists the backups newest first, with their files and links', () => {
    const reading = parseBackupsOutput(listing())!;
    expect(reading.backups.map((b) => b.id)).toEqual([NEW, OLD]);
    expect(reading.root).toEqual({ kind: 'dir', mode: '700', uid: 0, owner: 'root' });
    expect(reading.backups[0].ownership).toEqual({ kind: 'dir', mode: '755', uid: 1000, owner: 'deploy' });
    expect(reading.backups[1]).toMatchObject({ dir: `${ROOT}/${OLD}`, ownership: { kind: 'dir', mode: '700', uid: 0, owner: 'root' }, createdAt: '2026-01-01T10:00:00.000Z', files: [CONFIG], links: [BASEXX, INSPECT], removedLinks: [] });
    expect(reading.backups[0]).toMatchObject({ files: [CONFIG], links: [], removedLinks: [BASEXX] });
    expect(reading.chosen).toBeUndefined();
  });

  it('reads the chosen backup: saved copies, current files, link states', () => {
    const reading = parseBackupsOutput(
      listing([
        `@@chosen\t${OLD}`,
        '@@manifest\tfile\t644\t0\troot',
        `@@saved\t${CONFIG}\t644\troot\troot\t${b64('stock ünïcødé\n')}`,
        `@@current\t${CONFIG}\t640\troot\tprosody\t${b64('token\n')}`,
        `@@saved\t/etc/jitsi/jicofo/jicofo.conf`,
        `@@current\t/etc/binary\t600\troot\troot\t${Buffer.from([0xff, 0xfe, 0x00]).toString('base64')}`,
        `@@link-now\t${BASEXX}\tlink\t/usr/share/lua/5.1/basexx.lua`,
        `@@link-now\t${INSPECT}\tmissing`,
        `@@link-now\t/usr/local/x.lua\tother`,
      ]),
    )!;
    const chosen = reading.chosen!;
    expect(chosen.backup.id).toBe(OLD);
    expect(chosen.manifest).toEqual({ kind: 'file', mode: '644', uid: 0, owner: 'root' });
    expect(chosen.root).toEqual(reading.root);
    expect(chosen.saved.get(CONFIG)).toEqual({ mode: '644', owner: 'root', group: 'root', text: 'stock ünïcødé\n' });
    expect(chosen.current.get(CONFIG)).toEqual({ mode: '640', owner: 'root', group: 'prosody', text: 'token\n' });
    expect(chosen.saved.has('/etc/jitsi/jicofo/jicofo.conf')).toBe(true);
    expect(chosen.saved.get('/etc/jitsi/jicofo/jicofo.conf')).toBeUndefined();
    expect(chosen.current.get('/etc/binary')?.text).toBeUndefined();
    expect(chosen.links.get(BASEXX)).toEqual({ kind: 'link', target: '/usr/share/lua/5.1/basexx.lua' });
    expect(chosen.links.get(INSPECT)).toEqual({ kind: 'missing' });
    expect(chosen.links.get('/usr/local/x.lua')).toEqual({ kind: 'other' });
  });

  it.each([
    ['no marker', 'only probe output\n@@end\n'],
    ['cut short', listing().replace('@@end\n', '')],
  ])('refuses output that did not run to its end (%s)', (_case, stdout) => {
    expect(parseBackupsOutput(stdout)).toBeUndefined();
  });

  it('lists nothing on a host without backups', () => {
    expect(parseBackupsOutput('@@backups\n@@root\tmissing\n@@end\n')).toEqual({ root: { kind: 'missing' }, backups: [] });
  });
});

/** What apply wrote over the stock file (the fixture's token plan). */
const tokenText = plan(facts()).files[0].after;
const tokenFacts = () => facts({ domainFiles: [{ ...facts().domainFiles[0], text: tokenText, mode: '640', group: 'prosody' }] });
const copy = (text: string, mode = '644', group = 'root'): FileCopy => ({ mode, owner: 'root', group, text });

function contents(entries: string[], state: { saved?: FileCopy; current?: FileCopy; links?: Record<string, LinkState> }): BackupContents {
  const reading = parseBackupsOutput(
    ['@@backups', '@@root\tdir\t700\t0\troot', `@@backup\t${OLD}\tdir\t700\t0\troot`, ...entries.map((e) => `@@entry\t${e}`), `@@chosen\t${OLD}`, '@@manifest\tfile\t644\t0\troot', '@@end'].join('\n'),
  )!;
  return {
    ...reading.chosen!,
    saved: new Map([[CONFIG, state.saved]]),
    current: new Map([[CONFIG, state.current]]),
    links: new Map(Object.entries(state.links ?? {})),
  };
}

const applyBackup = [`file\t${CONFIG}\t${ROOT}/${OLD}/file-0`, `link\t${BASEXX}`, `link\t${INSPECT}`];
const linked: Record<string, LinkState> = { [BASEXX]: { kind: 'link', target: '/usr/share/lua/5.1/basexx.lua' }, [INSPECT]: { kind: 'link', target: '/usr/share/lua/5.3/inspect.lua' } };

describe('planRestore', () => {
  it("puts the stock file back over apply's edit, removes apply's links, restarts everything, proves nothing with tokens", () => {
    const { plan: p, restored, current } = planRestore(tokenFacts(), contents(applyBackup, { saved: copy(stockText), current: copy(tokenText, '640', 'prosody'), links: linked }));
    expect(p.files).toHaveLength(1);
    expect(p.files[0]).toMatchObject({ path: CONFIG, before: tokenText, after: stockText, mode: { from: '640', to: '644' }, owner: { from: 'root:prosody', to: 'root:root' } });
    expect(p.files[0].diff).toContain('-    authentication = "token" -- do not delete me');
    expect(p.files[0].diff).toContain('+    authentication = "jitsi-anonymous" -- do not delete me');
    expect(p.unlinks?.map((l) => l.path)).toEqual([BASEXX, INSPECT]);
    expect(p.links).toEqual([]);
    expect(p.packages).toEqual([]);
    expect(p.restarts).toEqual(['prosody', 'jicofo', 'jitsi-videobridge2']);
    expect(p.domain).toBe(DOMAIN);
    expect(restored.tokenAuth).toBe(false);
    expect(current).toMatchObject({ tokenAuth: true, appSecret: SECRET });
  });

  it('plans nothing when the host already holds what the backup holds', () => {
    const { plan: p } = planRestore(facts(), contents(applyBackup, { saved: copy(stockText), current: copy(stockText), links: {} }));
    expect(isEmpty(p)).toBe(true);
    expect(p.restarts).toEqual([]);
  });

  it("puts back links a restore removed, to exactly their old targets, and proves the restored credentials", () => {
    const restoreBackup = [`file\t${CONFIG}\t${ROOT}/${OLD}/file-0`, `unlink\t${BASEXX}\t/usr/share/lua/5.1/basexx.lua`, `unlink\t${INSPECT}\t/usr/share/lua/5.3/inspect.lua`];
    const { plan: p, restored } = planRestore(
      facts(),
      contents(restoreBackup, { saved: copy(tokenText, '640', 'prosody'), current: copy(stockText), links: { [BASEXX]: { kind: 'missing' }, [INSPECT]: linked[INSPECT] } }),
    );
    expect(p.links).toEqual([{ path: BASEXX, module: 'basexx.lua', target: '/usr/share/lua/5.1/basexx.lua', reason: `the run that made backup ${OLD} removed it` }]);
    expect(p.unlinks).toEqual([]);
    expect(restored).toMatchObject({ tokenAuth: true, appId: 'backend', appSecret: SECRET, roomCheck: true, allowEmptyToken: false });
    expect(p.appId).toBe('backend');
  });

  it('changes only mode and owner, without restarting, when only those differ', () => {
    const { plan: p } = planRestore(facts(), contents([`file\t${CONFIG}\t${ROOT}/${OLD}/file-0`], { saved: copy(stockText, '640', 'prosody'), current: copy(stockText) }));
    expect(p.files[0]).toMatchObject({ before: stockText, after: stockText, diff: '', mode: { from: '644', to: '640' } });
    expect(p.restarts).toEqual([]);
  });

  it('leaves alone what is no longer a link, with a warning', () => {
    const { plan: p } = planRestore(tokenFacts(), contents(applyBackup, { saved: copy(stockText), current: copy(stockText), links: { [BASEXX]: { kind: 'other' } } }));
    expect(p.unlinks).toEqual([]);
    expect(p.warnings.join('\n')).toContain(`${BASEXX} is no longer a link`);
  });

  it.each([
    ['the saved copy is missing', { saved: undefined, current: copy(stockText) }, /has lost its copy/],
    ['the saved copy is not text', { saved: { ...copy(''), text: undefined }, current: copy(stockText) }, /not UTF-8 text/],
    ['the file is gone from the host', { saved: copy(stockText), current: undefined }, /no longer on the host/],
  ])('refuses when %s', (_case, state, message) => {
    expect(() => planRestore(facts(), contents([`file\t${CONFIG}\t${ROOT}/${OLD}/file-0`], state))).toThrow(message);
  });
});

describe('planRestore with public keys', () => {
  const KEY = `/etc/prosody/jitsi-jwt-keys/${DOMAIN}/06383ad03cd1719532bd04d53eba8340598209971ffe1b90b2a860251b95c760.pem`;
  const keyText = '# jitsi-jwt public key, kid: jitsi-jwt-1\n-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n';
  const withFiles = (entries: string[], saved: Record<string, FileCopy | undefined>, current: Record<string, FileCopy | undefined>): BackupContents => ({
    ...contents(entries, {}),
    saved: new Map(Object.entries(saved)),
    current: new Map(Object.entries(current)),
  });

  it("removes a key the backup's run published (rotate-key --add-public-key), and restarts so Prosody forgets it", () => {
    const { plan: p } = planRestore(facts(), withFiles([`new\t${KEY}`], {}, { [KEY]: copy(keyText, '644', 'prosody') }));
    expect(p.files).toEqual([expect.objectContaining({ path: KEY, remove: true, before: keyText, after: '' })]);
    expect(p.restarts).toContain('prosody');
  });

  it("puts back a key the backup's run retired, as a new file with its old owner and mode", () => {
    const { plan: p } = planRestore(facts(), withFiles([`file\t${KEY}\t${ROOT}/${OLD}/file-0`], { [KEY]: copy(keyText, '644', 'prosody') }, { [KEY]: undefined }));
    expect(p.files).toEqual([expect.objectContaining({ path: KEY, create: true, after: keyText, mode: { from: '644', to: '644' }, owner: { from: 'root:prosody', to: 'root:prosody' } })]);
  });

  it('still refuses to replace another file that is gone', () => {
    expect(() => planRestore(facts(), withFiles([`file\t${CONFIG}\t${ROOT}/${OLD}/file-0`], { [CONFIG]: copy(stockText) }, { [CONFIG]: undefined }))).toThrow(/no longer on the host/);
  });
});

describe('which backups restore trusts', () => {
  const own = (kind: PathOwnership['kind'], mode = '700', uid = 0, owner = uid === 0 ? 'root' : 'deploy'): PathOwnership => ({ kind, mode, uid, owner });

  it.each([
    ['missing (no backups yet)', { kind: 'missing' } as PathOwnership],
    ["root's, mode 700", own('dir')],
    ["root's, mode 755 (readable, not writable, by others)", own('dir', '755')],
  ])('takes a backup directory that is %s', (_case, root) => {
    expect(() => checkBackupRoot(root)).not.toThrow();
  });

  it.each([
    ['owned by another user', own('dir', '700', 1000), "/var/backups/jitsi-jwt is not root's (owner deploy (uid 1000), mode 700)"],
    ['writable by its group', own('dir', '770'), '/var/backups/jitsi-jwt can be written by others than root (owner root (uid 0), mode 770)'],
    ['writable by everyone, sticky', own('dir', '1777'), 'can be written by others than root (owner root (uid 0), mode 1777)'],
    ['a symbolic link', { kind: 'link' } as PathOwnership, '/var/backups/jitsi-jwt is a symbolic link'],
    ['a file', own('file', '600'), '/var/backups/jitsi-jwt is not a directory'],
  ])('refuses a backup directory that is %s, naming it and the fix', (_case, root, message) => {
    let error: { code?: string; message: string; hint?: string } | undefined;
    try {
      checkBackupRoot(root);
    } catch (e) {
      error = e as typeof error;
    }
    expect(error?.code).toBe('host-state');
    expect(error?.message).toContain(message);
    expect(error?.hint).toContain(`chown root:root ${ROOT} && chmod 700 ${ROOT}`);
  });

  const chosen = (entries: string[], stats: { root?: PathOwnership; backup?: PathOwnership; manifest?: PathOwnership } = {}): BackupContents => {
    const base = contents(entries, {});
    return { ...base, root: stats.root ?? base.root, manifest: stats.manifest ?? base.manifest, backup: { ...base.backup, ownership: stats.backup ?? base.backup.ownership } };
  };
  const saved = (i: number) => `${ROOT}/${OLD}/file-${i}`;
  const KEY = `/etc/prosody/jitsi-jwt-keys/${DOMAIN}/${'0'.repeat(64)}.pem`;

  it.each([
    ['a planted backup directory', { backup: own('dir', '755', 1000) }, `backup ${OLD} cannot be trusted: ${ROOT}/${OLD} is not root's (owner deploy (uid 1000), mode 755)`],
    ['a backup directory others can write', { backup: own('dir', '777') }, `${ROOT}/${OLD} can be written by others than root (owner root (uid 0), mode 777)`],
    ['a planted manifest', { manifest: own('file', '644', 1000) }, `${ROOT}/${OLD}/manifest is not root's (owner deploy (uid 1000), mode 644)`],
    ['a manifest others can write', { manifest: own('file', '666') }, `${ROOT}/${OLD}/manifest can be written by others than root`],
    ['a manifest that is a link', { manifest: { kind: 'link' } as PathOwnership }, `${ROOT}/${OLD}/manifest is a symbolic link`],
    ['a backup directory others own', { root: own('dir', '700', 1000) }, `${ROOT} is not root's`],
  ])('refuses %s before planning anything', (_case, stats, message) => {
    expect(() => planRestore(facts(), chosen([`file\t${CONFIG}\t${saved(0)}`], stats))).toThrow(message);
  });

  it.each([
    ['a file the tool never writes', `file\t/etc/motd\t${saved(0)}`, '/etc/motd, which jitsi-jwt never writes'],
    ['a path that climbs out of conf.avail', `file\t/etc/prosody/conf.avail/../../sudoers.d/x.cfg.lua\t${saved(0)}`, 'never writes'],
    ['a copy outside the backup', `file\t${CONFIG}\t/home/deploy/evil`, `/home/deploy/evil as the copy of ${CONFIG}, which is not a file of the backup itself`],
    ["another backup's copy", `file\t${CONFIG}\t${ROOT}/${NEW}/file-0`, 'which is not a file of the backup itself'],
    ['a file to remove that is not a published key', 'new\t/etc/passwd', '/etc/passwd as a file to remove'],
    ['a key path out of the key directory', `new\t/etc/prosody/jitsi-jwt-keys/../${'0'.repeat(64)}.pem`, 'as a file to remove'],
    ['a link to remove that is not a Lua link', 'link\t/usr/local/bin/sudo', '/usr/local/bin/sudo as a link to remove'],
    ['a link to make elsewhere', 'unlink\t/usr/local/lib/x.so\t/usr/share/lua/5.1/basexx.lua', '/usr/local/lib/x.so as a link to make'],
    ['a Lua link to code of its own', `unlink\t${BASEXX}\t/home/deploy/basexx.lua`, `a link ${BASEXX} to /home/deploy/basexx.lua, which is not Debian's copy of basexx.lua`],
    ['a Lua link to another module', `unlink\t${BASEXX}\t/usr/share/lua/5.1/inspect.lua`, "not Debian's copy of basexx.lua"],
  ])('refuses the whole restore for %s', (_case, entry, message) => {
    // The good entries beside it are not restored either.
    const entries = [`file\t${CONFIG}\t${saved(0)}`, entry, `link\t${BASEXX}`];
    expect(() => planRestore(facts(), chosen(entries))).toThrow(`backup ${OLD} names what jitsi-jwt does not manage, so nothing of it is restored: `);
    expect(() => planRestore(facts(), chosen(entries))).toThrow(message);
  });

  it('takes a backup without a manifest, which names nothing to put back', () => {
    expect(() => checkRestorable(chosen([], { manifest: { kind: 'missing' } }))).not.toThrow();
  });

  it('names every entry it does not manage', () => {
    expect(() => checkRestorable(chosen([`file\t/etc/motd\t${saved(0)}`, 'new\t/etc/passwd']))).toThrow(/\/etc\/motd, which jitsi-jwt never writes; \/etc\/passwd as a file to remove/);
  });

  it('takes every path the tool writes', () => {
    const entries = [
      `file\t${CONFIG}\t${saved(0)}`,
      `file\t/etc/prosody/conf.d/${DOMAIN}.cfg.lua\t${saved(1)}`,
      `file\t/etc/jitsi/jicofo/jicofo.conf\t${saved(2)}`,
      `file\t/etc/jitsi/meet/${DOMAIN}-config.js\t${saved(3)}`,
      `file\t${KEY}\t${saved(4)}`,
      `new\t${KEY.replace(/0{64}/, 'a'.repeat(64))}`,
      `file\t/var/cache/debconf/config.dat\t${ROOT}/${OLD}/debconf-0`,
      `file\t/var/cache/debconf/passwords.dat\t${ROOT}/${OLD}/debconf-1`,
      `link\t${BASEXX}`,
      `link\t${INSPECT}`,
      `unlink\t${BASEXX}\t/usr/share/lua/5.1/basexx.lua`,
      `unlink\t/usr/local/share/lua/5.5/inspect.lua\t/usr/share/lua/5.3/inspect.lua`,
    ];
    expect(() => checkRestorable(chosen(entries))).not.toThrow();
    // A domain config Prosody reads from elsewhere is the tool's too.
    expect(() => checkRestorable(chosen([`file\t/srv/jitsi/${DOMAIN}.cfg.lua\t${saved(0)}`]), [`/srv/jitsi/${DOMAIN}.cfg.lua`])).not.toThrow();
  });
});

// The script needs root to give its files another owner.
describe.runIf(process.getuid?.() === 0)('backupsScript, run under dash', () => {
  it('reports who owns the backup directory, each backup and the chosen manifest, without following links', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'backups-script-'));
    try {
      const root = path.join(dir, 'jitsi-jwt');
      fs.mkdirSync(path.join(root, OLD), { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(root, OLD, 'manifest'), `file\t${CONFIG}\t${ROOT}/${OLD}/file-0\n`);
      fs.mkdirSync(path.join(root, NEW), { mode: 0o755 });
      fs.writeFileSync(path.join(root, NEW, 'manifest'), `file\t/etc/motd\t${root}/${NEW}/file-0\n`, { mode: 0o644 });
      fs.chownSync(path.join(root, NEW), 1000, 1000);
      fs.chownSync(path.join(root, NEW, 'manifest'), 1000, 1000);
      fs.chmodSync(path.join(root, NEW), 0o755);
      fs.chmodSync(root, 0o700);
      const run = (script: ShellScript) => parseBackupsOutput(execFileSync('dash', [], { input: script.text }).toString())!;

      const reading = run(backupsScript('latest', root));
      expect(reading.root).toEqual({ kind: 'dir', mode: '700', uid: 0, owner: 'root' });
      expect(reading.backups.map((b) => [b.id, b.ownership.uid, b.ownership.mode])).toEqual([[NEW, 1000, '755'], [OLD, 0, '700']]);
      expect(reading.chosen?.manifest).toMatchObject({ kind: 'file', uid: 1000, mode: '644' });
      expect(run(backupsScript(OLD, root)).chosen?.manifest).toMatchObject({ kind: 'file', uid: 0, mode: '644' });

      fs.symlinkSync(root, path.join(dir, 'link'));
      expect(run(backupsScript(undefined, path.join(dir, 'link'))).root).toEqual({ kind: 'link' });
      expect(run(backupsScript(undefined, path.join(dir, 'none'))).root).toEqual({ kind: 'missing' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
