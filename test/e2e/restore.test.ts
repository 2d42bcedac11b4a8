// Backups and `restore` on a real test host: apply and rotate-secret leave
// backups; restore lists them, puts the stock file back over token auth (a new
// backup of the token state first), changes nothing when there is nothing to
// change, rolls back a restore that fails, and brings token auth back from the
// backup it made; a successful run prunes to the newest --keep-backups.
// Backups someone other than root could have written are refused, and a
// manifest naming anything jitsi-jwt does not write restores nothing; a run
// that writes takes the backup directory back from a user who owned it.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBed, USERS, type HostRecord } from '../../testbed/bed.js';
import { EXIT } from '../../src/errors.js';
import { jitsiJwt, sshFlags } from '../support/cli.js';
import { attemptJoin, domainFile, eventNames, prosodyPid, secretAdmitted, serviceEvents, waitForFocus } from '../support/token-host.js';
import { parseRunDocument } from '../support/run-schema.js';

const DOMAIN = 'meet.test';
const NAME = 'bookworm-1';
const ROOT = '/var/backups/jitsi-jwt';
const LINKS = ['/usr/local/share/lua/5.4/basexx.lua', '/usr/local/share/lua/5.4/inspect.lua'];
const STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;
const bed = new TestBed(`e2e-restore-${process.pid}`);
const appId = 'restore_backend';

let host: HostRecord;
let scratch: string;
let stockConfig: string;
let stockOwnership: string;

beforeAll(async () => {
  await bed.up({ suites: ['bookworm'], count: 1, domain: DOMAIN, generation: '2026', brokenProsodyInit: false });
  host = await bed.host(NAME);
  scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'restore-'));
  stockConfig = await config();
  stockOwnership = await ownership();
});

afterAll(async () => {
  await bed.down();
  if (scratch) await fs.rm(scratch, { recursive: true, force: true });
});

const target = () => `deploy@${host.address}`;
/** The CLI against the test host: `command TARGET ssh-flags rest…`. */
const cli = (command: string, rest: string[] = [], env: Record<string, string> = {}) => jitsiJwt([command, target(), ...sshFlags(bed), ...rest], { env });
const sh = async (command: string) => (await bed.ssh(NAME, command)).stdout;
const config = () => sh(`cat ${domainFile(DOMAIN)}`);
const ownership = () => sh(`stat -c '%a %U %G' ${domainFile(DOMAIN)}`);
const backupIds = async () => (await sh(`ls -1 ${ROOT}`)).split('\n').filter((line) => STAMP.test(line));
/** The name of the backup a run made, from its run document. */
const backupOf = (stdout: string) => path.basename((parseRunDocument(stdout).hosts[0] as unknown as { applied: { backupDir: string | null } | null }).applied?.backupDir ?? '');
const linkState = async () => (await sh(`for l in ${LINKS.join(' ')}; do printf '%s\\n' "$(readlink "$l" || echo none)"; done`)).split('\n');
const boshUrl = () => `http://${host.address}:5280/http-bind`;

describe('backups and restore', () => {
  let applyBackup: string;
  let rotateBackup: string;
  let tokenConfig: string;
  let tokenLinks: string[];
  let secret: string;
  let restoreBackup: string;

  it('apply and rotate-secret each leave a backup; restore lists them, newest first', async () => {
    const apply = await cli('apply', ['--app-id', appId, '--yes', '--json'], { JITSI_JWT_APP_SECRET: randomBytes(32).toString('base64url') });
    expect(apply.exitCode).toBe(0);
    applyBackup = backupOf(apply.stdout);
    tokenLinks = await linkState();
    expect(tokenLinks.every((l) => l.startsWith('/usr/share/lua/5.'))).toBe(true);

    const secretFile = path.join(scratch, 'secret-1');
    const rotate = await cli('rotate-secret', ['--yes', '--json', '--secret-out', secretFile]);
    expect(rotate.exitCode).toBe(0);
    rotateBackup = backupOf(rotate.stdout);
    secret = (await fs.readFile(secretFile, 'utf8')).trim();
    tokenConfig = await config();
    expect(await backupIds()).toEqual([applyBackup, rotateBackup]);
    expect(await sh(`stat -c '%a %U' ${ROOT}`)).toBe('700 root');

    const text = await cli('restore');
    expect(text.exitCode).toBe(0);
    expect(text.stderr).toBe('');
    expect(text.stdout.indexOf(rotateBackup)).toBeGreaterThan(0);
    expect(text.stdout.indexOf(rotateBackup)).toBeLessThan(text.stdout.indexOf(applyBackup));
    expect(text.stdout).toMatch(new RegExp(`${applyBackup}.*${domainFile(DOMAIN).replace(/\./g, '\\.')}.*2 made`));

    const json = await cli('restore', ['--json']);
    expect(json.exitCode).toBe(0);
    const document = parseRunDocument(json.stdout);
    expect(document.command).toBe('restore');
    const listed = (document.hosts[0] as unknown as { backups: { id: string; files: string[]; links: string[]; removedLinks: string[] }[] }).backups;
    expect(listed.map((b) => b.id)).toEqual([rotateBackup, applyBackup]);
    expect(listed[1]).toMatchObject({ files: [domainFile(DOMAIN)], links: LINKS, removedLinks: [] });
    expect(listed[0]).toMatchObject({ files: [domainFile(DOMAIN)], links: [], removedLinks: [] });
    // The lock, and under it the read of the backups: one round trip.
    expect(document.hosts[0].timings.roundTrips).toBe(1);
    for (const out of [text.stdout, json.stdout]) expect(out).not.toContain(secret);
  });

  it("restores apply's backup: the stock file again, links gone, services restarted, tokenless clients admitted, a new backup", async () => {
    // Without a terminal and without --yes it shows the plan and refuses.
    const unconfirmed = await cli('restore', ['--backup', applyBackup]);
    expect(unconfirmed.exitCode).toBe(EXIT.badInput);
    expect(unconfirmed.stdout).toContain('+    authentication = "jitsi-anonymous" -- do not delete me');
    expect(unconfirmed.stdout).toContain(`remove the link ${LINKS[0]}`);
    expect(unconfirmed.stdout).not.toContain(secret);
    expect(unconfirmed.stderr).toMatch(/--yes/);
    expect(await config()).toBe(tokenConfig);

    const pidBefore = await prosodyPid(bed, NAME);
    const eventsBefore = (await serviceEvents(bed, NAME)).length;
    const run = await cli('restore', ['--backup', applyBackup, '--yes', '--json']);
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    const result = parseRunDocument(run.stdout).hosts[0];
    expect(result.status).toBe('applied');
    expect(result.smoke).toBeNull();
    expect(result.restarts).toEqual(['prosody', 'jicofo', 'jitsi-videobridge2']);
    expect(run.stdout).not.toContain(secret);

    expect(await config()).toBe(stockConfig);
    expect(await ownership()).toBe(stockOwnership);
    expect(await linkState()).toEqual(['none', 'none']);
    expect(await prosodyPid(bed, NAME)).not.toBe(pidBefore);
    const events = eventNames((await serviceEvents(bed, NAME)).slice(eventsBefore));
    expect([...events].sort()).toEqual(['jicofo restart', 'jitsi-videobridge2 restart']);

    await waitForFocus({ url: boshUrl(), domain: DOMAIN });
    const anonymous = await attemptJoin({ url: boshUrl(), domain: DOMAIN, room: `open-${randomBytes(3).toString('hex')}` });
    expect(anonymous.auth.ok).toBe(true);
    expect(anonymous.join?.ok).toBe(true);

    restoreBackup = backupOf(run.stdout);
    expect(await backupIds()).toEqual([applyBackup, rotateBackup, restoreBackup]);
    expect(await sh(`cat ${ROOT}/${restoreBackup}/file-0`)).toBe(tokenConfig);
    expect(await sh(`cut -f1,2 ${ROOT}/${restoreBackup}/manifest`)).toBe([`file\t${domainFile(DOMAIN)}`, ...LINKS.map((l) => `unlink\t${l}`)].join('\n'));
  });

  it('changes nothing and restarts nothing when the host already holds the backup; an unknown backup is named with the real ones', async () => {
    const pidBefore = await prosodyPid(bed, NAME);
    const eventsBefore = await serviceEvents(bed, NAME);
    const again = await cli('restore', ['--backup', applyBackup, '--yes']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toContain('No changes');
    expect(await prosodyPid(bed, NAME)).toBe(pidBefore);
    expect(await serviceEvents(bed, NAME)).toEqual(eventsBefore);
    expect(await backupIds()).toEqual([applyBackup, rotateBackup, restoreBackup]);

    const unknown = await cli('restore', ['--backup', '2000-01-01T00-00-00-000Z', '--yes']);
    expect(unknown.exitCode).toBe(EXIT.badInput);
    expect(unknown.stderr).toContain(`${restoreBackup}, ${rotateBackup}, ${applyBackup}`);
  });

  it('names where reading the backups stopped, and nothing of what the script printed (saved configs hold old secrets)', async () => {
    // rotate-secret's backup holds the config with the secret apply gave the host.
    const saved = await sh(`/usr/bin/base64 -w0 ${ROOT}/${rotateBackup}/file-0`);
    const [configBefore, backupsBefore] = [await config(), await backupIds()];
    // base64 as the host's scripts call it, except that once it has encoded a file of a backup, its next call kills
    // the script reading the backups (the topmost `sh -s`): that script stops right after printing the backup's
    // copy of the domain config.
    const fault = [
      '#!/bin/sh',
      '/usr/bin/base64 "$@" || exit',
      'armed=/run/jitsi-testbed-base64-armed',
      `case "$*" in *${ROOT}/*) touch "$armed"; exit 0 ;; esac`,
      '[ -e "$armed" ] || exit 0',
      'rm -f "$armed"',
      'target= p=$PPID',
      'while [ "$p" -gt 1 ]; do',
      '  if [ "$(tr "\\0" " " < /proc/$p/cmdline)" = "sh -s " ]; then target=$p; elif [ -n "$target" ]; then break; fi',
      "  p=$(cut -d' ' -f4 /proc/$p/stat)",
      'done',
      'kill -9 "$target"',
    ].join('\n');
    await sh(`echo ${Buffer.from(fault).toString('base64')} | /usr/bin/base64 -d > /usr/local/bin/base64 && chmod 755 /usr/local/bin/base64`);
    try {
      const text = await cli('restore', ['--backup', rotateBackup, '--yes']);
      expect(text.exitCode).toBe(EXIT.failed);
      expect(text.stderr).toContain(
        `error: the script that reads the backups on deploy@${host.address}:22 did not run to its end (it stopped after reading the backup's copy of ${domainFile(DOMAIN)})`,
      );
      const json = await cli('restore', ['--backup', rotateBackup, '--yes', '--json']);
      expect(json.exitCode).toBe(EXIT.failed);
      expect(parseRunDocument(json.stdout).hosts[0].error?.code).toBe('probe-failed');
      for (const output of [text.stdout, text.stderr, json.stdout, json.stderr]) {
        expect(output).not.toMatch(/[A-Za-z0-9+/]{40,}/);
        expect(output).not.toContain(saved.slice(-60, -20));
      }
    } finally {
      await sh('rm -f /usr/local/bin/base64 /run/jitsi-testbed-base64-armed');
    }
    expect(await config()).toBe(configBefore);
    expect(await backupIds()).toEqual(backupsBefore);
  });

  it('puts the host back on the state before the restore when a service fails on the restored one (exit 7)', async () => {
    await sh(`mkdir -p /etc/jitsi-testbed && echo "grep -q 'authentication = \\"token\\" -- do not delete me' ${domainFile(DOMAIN)}" > /etc/jitsi-testbed/fail-start-jicofo`);
    try {
      const run = await cli('restore', ['--backup', restoreBackup, '--yes']);
      expect(run.exitCode).toBe(EXIT.rolledBack);
      expect(run.stderr).toMatch(/jicofo did not come back/);
      expect(await config()).toBe(stockConfig);
      expect(await ownership()).toBe(stockOwnership);
      expect(await linkState()).toEqual(['none', 'none']);
      // Under systemd, service hands over to systemctl, which says so its own way.
      expect(await sh('service jicofo status')).toMatch(/is running|Active: active \(running\)/);
    } finally {
      await sh('rm -f /etc/jitsi-testbed/fail-start-jicofo');
    }
  });

  it('restores the backup the first restore made: token auth back, links back, its smoke test passing', async () => {
    const run = await cli('restore', ['--backup', restoreBackup, '--yes', '--json']);
    expect(run.stderr).toBe('');
    expect(run.exitCode).toBe(0);
    const result = parseRunDocument(run.stdout).hosts[0];
    expect(result.smoke?.ok).toBe(true);
    expect(result.smoke?.cases.map((c) => c.name)).toEqual(['valid token', 'no token', 'wrong secret', 'expired token', 'wrong room']);
    expect(await config()).toBe(tokenConfig);
    expect(await linkState()).toEqual(tokenLinks);
    expect(await secretAdmitted({ url: boshUrl(), domain: DOMAIN, appId, secret })).toBe(true);
  });

  it('keeps only the newest --keep-backups after a successful run, never anything else in the directory', async () => {
    const zero = await jitsiJwt(['rotate-secret', 'deploy@nosuchhost.invalid', '--keep-backups', '0', '--yes', '--show-secret']);
    expect(zero.exitCode).toBe(EXIT.badInput);
    expect(zero.stderr).toMatch(/would delete the backup of the run that just happened/);
    const word = await jitsiJwt(['rotate-secret', 'deploy@nosuchhost.invalid', '--yes', '--show-secret'], { env: { JITSI_JWT_KEEP_BACKUPS: 'ten' } });
    expect(word.exitCode).toBe(EXIT.badInput);

    // apply, rotate-secret, and three restores (one rolled back) so far.
    expect(await backupIds()).toHaveLength(5);
    // Not the tool's own backups, though some look like them: never removed.
    const strangers = ['notes', '1999-01-01T00-00-00-000Z.old', '2000-01-01T00-00-00-000Z'];
    await sh(`mkdir ${ROOT}/notes ${ROOT}/1999-01-01T00-00-00-000Z.old && ln -s /etc ${ROOT}/2000-01-01T00-00-00-000Z`);

    const first = await cli('rotate-secret', ['--yes', '--json', '--secret-out', path.join(scratch, 'secret-2')]);
    expect(first.exitCode).toBe(0);
    expect((await backupIds()).filter((id) => id !== '2000-01-01T00-00-00-000Z')).toHaveLength(6);
    const second = await cli('rotate-secret', ['--yes', '--json', '--secret-out', path.join(scratch, 'secret-3'), '--keep-backups', '2']);
    expect(second.exitCode).toBe(0);
    const newest = [first, second].map((r) => backupOf(r.stdout));
    expect((await sh(`ls -1 ${ROOT}`)).split('\n').sort()).toEqual([...strangers, ...newest].sort());
    expect(await sh(`stat -c '%a %U' ${ROOT}`)).toBe('700 root');
  });

  const planter = USERS.sudoPassword;
  const planted = '2099-01-01T00-00-00-000Z';

  it('refuses to restore from a backup directory another user owns, and lists nothing from it', async () => {
    const motd = await sh('cat /etc/motd');
    // Mode 700, as runs leave it, but owned by a user who is not root: that user can plant a newer backup.
    await sh(`chown ${planter}: ${ROOT}`);
    await bed.ssh(NAME, `mkdir ${ROOT}/${planted} && printf 'file\\t/etc/motd\\t${ROOT}/${planted}/file-0\\n' > ${ROOT}/${planted}/manifest && echo planted > ${ROOT}/${planted}/file-0`, { user: planter });
    const refused = await cli('restore', ['--backup', 'latest', '--yes']);
    expect(refused.exitCode).toBe(EXIT.hostState);
    expect(refused.stderr).toContain(`${ROOT} is not root's (owner ${planter} (uid `);
    expect(refused.stderr).toMatch(/, mode 700\): whoever can write there can plant a backup/);
    expect(refused.stderr).toContain(`chown root:root ${ROOT} && chmod 700 ${ROOT}`);
    const listing = await cli('restore', ['--json']);
    expect(listing.exitCode).toBe(EXIT.hostState);
    expect(parseRunDocument(listing.stdout).hosts[0].error?.code).toBe('host-state');
    expect(await sh('cat /etc/motd')).toBe(motd);
  });

  it("a run that writes takes the directory back; the planted backup neither counts when it prunes nor is restored", async () => {
    const motd = await sh('cat /etc/motd');
    try {
      const rotated = await cli('rotate-secret', ['--yes', '--json', '--secret-out', path.join(scratch, 'secret-4'), '--keep-backups', '1']);
      expect(rotated.exitCode).toBe(0);
      const own = backupOf(rotated.stdout);
      expect(await sh(`stat -c '%a %U %G' ${ROOT}`)).toBe('700 root root');
      expect(await sh(`stat -c '%a %U' ${ROOT}/${own}`)).toBe('700 root');
      // The planted directory is not one of the tool's backups: it neither pushed the run's own out nor went.
      expect(await backupIds()).toEqual(['2000-01-01T00-00-00-000Z', own, planted]);

      // Still the newest: listed with a warning, and refused by name.
      const listing = await cli('restore');
      expect(listing.exitCode).toBe(0);
      expect(listing.stdout).toContain(`warning: restore refuses ${planted}: ${ROOT}/${planted} is not root's (owner ${planter}`);
      const document = parseRunDocument((await cli('restore', ['--json'])).stdout);
      const listed = (document.hosts[0] as unknown as { backups: { id: string; refused?: string }[] }).backups;
      expect(listed.map((b) => [b.id, Boolean(b.refused)])).toEqual([[planted, true], [own, false]]);
      const refused = await cli('restore', ['--backup', 'latest', '--yes']);
      expect(refused.exitCode).toBe(EXIT.hostState);
      expect(refused.stderr).toContain(`backup ${planted} cannot be trusted: ${ROOT}/${planted} is not root's (owner ${planter}`);
      expect(refused.stderr).toContain(`rm -rf ${ROOT}/${planted}`);
      expect(await sh('cat /etc/motd')).toBe(motd);
    } finally {
      await sh(`rm -rf ${ROOT}/${planted} && chown root:root ${ROOT}`);
    }
  });

  it('restores nothing of a backup whose manifest names a file jitsi-jwt does not write, changing nothing', async () => {
    const [own] = (await backupIds()).filter((id) => id !== '2000-01-01T00-00-00-000Z');
    const forged = '2098-01-01T00-00-00-000Z';
    // Root's own, and a copy of a real backup that would put the previous secret back, plus one line more.
    await sh(`cp -a ${ROOT}/${own} ${ROOT}/${forged} && sed -i 's|/${own}/|/${forged}/|' ${ROOT}/${forged}/manifest && printf 'file\\t/etc/motd\\t${ROOT}/${forged}/file-9\\n' >> ${ROOT}/${forged}/manifest && echo forged > ${ROOT}/${forged}/file-9`);
    try {
      const motd = await sh('cat /etc/motd');
      const configBefore = await config();
      const ids = await backupIds();
      const pidBefore = await prosodyPid(bed, NAME);
      const run = await cli('restore', ['--backup', forged, '--yes']);
      expect(run.exitCode).toBe(EXIT.hostState);
      expect(run.stderr).toContain(`backup ${forged} names what jitsi-jwt does not manage, so nothing of it is restored: /etc/motd, which jitsi-jwt never writes`);
      expect(await sh('cat /etc/motd')).toBe(motd);
      expect(await config()).toBe(configBefore);
      expect(await backupIds()).toEqual(ids);
      expect(await prosodyPid(bed, NAME)).toBe(pidBefore);
    } finally {
      await sh(`rm -rf ${ROOT}/${forged}`);
    }
  });
});
