// Beyond the token holder, on hosts of both suites with Jibri's recorder domain
// and a Jigasi account: apply lets exactly those in without a token (their own
// accounts join a room; an anonymous client stays out), the smoke test proves
// it with throwaway accounts it removes again; --guests makes guests wait for
// a host, a re-run changes nothing, --no-guests gives back both files byte for
// byte, and a failed run puts config.js back too. A password-protected ("secure
// domain") server is taken over: the plan says how many accounts stop working,
// its guests keep getting in by waiting for a host, Jicofo's login check goes
// off, and password login is proven gone.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestBed, type HostRecord } from '../../testbed/bed.js';
import { EXIT } from '../../src/errors.js';
import { jitsiJwt, sshFlags } from '../support/cli.js';
import { attemptJoin, domainFile, prosodyPid, restartProsody } from '../support/token-host.js';
import { parseRunDocument } from '../support/run-schema.js';

const DOMAIN = 'meet.test';
const bed = new TestBed(`e2e-access-${process.pid}`);
const appSecret = randomBytes(32).toString('base64url');
const appId = 'access_backend';
const CONFIG_JS = `/etc/jitsi/meet/${DOMAIN}-config.js`;
const ACCOUNTS = `/var/lib/prosody/recorder%2emeet%2etest/accounts /var/lib/prosody/auth%2emeet%2etest/accounts`;

// JITSI_JWT_TEST_PLUGINS=DIR (and JITSI_JWT_TEST_GENERATION=2024) run the same on Jitsi's own plugins.
const PLUGINS = process.env.JITSI_JWT_TEST_PLUGINS ? path.resolve(process.env.JITSI_JWT_TEST_PLUGINS) : undefined;
const GENERATION = process.env.JITSI_JWT_TEST_GENERATION === '2024' ? '2024' : '2026';

beforeAll(async () => {
  await bed.up({ suites: ['bookworm', 'trixie'], count: 1, domain: DOMAIN, generation: GENERATION, pluginsDir: PLUGINS, brokenProsodyInit: false });
});

afterAll(async () => {
  await bed.down();
});

const run = (name: string, host: HostRecord, ...args: string[]) =>
  jitsiJwt([args[0], `deploy@${host.address}`, ...sshFlags(bed), ...args.slice(1), '--json'], { env: { JITSI_JWT_APP_SECRET: appSecret } }).then((r) => {
    const doc = parseRunDocument(r.stdout);
    return { ...r, doc, host: doc.hosts[0] };
  });

describe.each(['bookworm-1', 'trixie-1'])('%s', (name) => {
  let host: HostRecord;
  let passwords: Record<string, string>;
  let tokenState: string;
  let webBefore: string;
  const url = () => `http://${host.address}:5280/http-bind`;
  const snapshot = () => bed.ssh(name, `cat ${domainFile(DOMAIN)}; echo @@; cat ${CONFIG_JS}`).then((r) => r.stdout);

  beforeAll(async () => {
    host = await bed.host(name);
    const env = (await bed.ssh(name, 'cat /etc/jitsi-testbed/host.env')).stdout;
    passwords = Object.fromEntries(env.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    webBefore = (await bed.ssh(name, `cat ${CONFIG_JS}`)).stdout;
  });

  it('lets Jibri and Jigasi in without a token, and proves it with accounts it removes again', async () => {
    // A hand-edited file: a duplicate option below every line the change edits, which Prosody warns about already.
    await bed.ssh(name, `sed -i '/^Component "lobby\\./,/^$/ s/^\\(    muc_room_locking = false\\)$/\\1\\n\\1/' ${domainFile(DOMAIN)} && prosodyctl check config 2>&1 | grep -c "Duplicate option 'muc_room_locking'"`);
    const applied = await run(name, host, 'apply', '--app-id', appId, '--yes');
    expect(applied.exitCode, applied.stderr).toBe(0);
    expect(applied.host.access).toEqual({
      withoutToken: [
        expect.objectContaining({ kind: 'jibri', entry: `recorder.${DOMAIN}`, lobby: true }),
        expect.objectContaining({ kind: 'jigasi', entry: `auth.${DOMAIN}`, lobby: true }),
      ],
      guests: false,
    });
    const cases = Object.fromEntries(applied.host.smoke!.cases.map((c) => [c.name, c]));
    expect(cases['jibri account']).toMatchObject({ expected: 'admitted', verdict: 'pass' });
    expect(cases['jigasi account']).toMatchObject({ expected: 'admitted', verdict: 'pass' });
    expect(cases['no token']).toMatchObject({ expected: 'refused', verdict: 'pass' });
    expect(applied.host.smoke!.leftovers).toBeUndefined();
    // The throwaway accounts are gone; the real ones are still there.
    expect((await bed.ssh(name, `ls ${ACCOUNTS}`)).stdout).not.toContain('jitsi%2djwt%2dsmoke');

    // Jibri's and Jigasi's own accounts get in; an anonymous client does not.
    const recorder = await attemptJoin({ url: url(), domain: DOMAIN, room: 'rec-room', xmppDomain: `recorder.${DOMAIN}`, login: { user: 'recorder', password: passwords.RECORDER_PASSWORD } });
    expect(recorder.join, JSON.stringify(recorder)).toMatchObject({ ok: true });
    const jigasi = await attemptJoin({ url: url(), domain: DOMAIN, room: 'sip-room', xmppDomain: `auth.${DOMAIN}`, login: { user: 'jigasi', password: passwords.JIGASI_PASSWORD } });
    expect(jigasi.join, JSON.stringify(jigasi)).toMatchObject({ ok: true });
    const anonymous = await attemptJoin({ url: url(), domain: DOMAIN, room: 'rec-room' });
    expect(anonymous.auth).toMatchObject({ ok: false, condition: 'not-allowed' });
    tokenState = await snapshot();
  });

  it('smoke proves the same on a converged host, and removes leftovers of an interrupted run', async () => {
    // A throwaway account an interrupted run left behind an hour ago.
    const stale = `jitsi-jwt-smoke-${Math.floor(Date.now() / 1000) - 3600}-deadbeef@recorder.${DOMAIN}`;
    await bed.ssh(name, `printf 'x\\nx\\n' | prosodyctl adduser ${stale} >/dev/null`);
    expect((await bed.ssh(name, `ls ${ACCOUNTS}`)).stdout).toContain('jitsi%2djwt%2dsmoke');
    const smoked = await run(name, host, 'smoke');
    expect(smoked.exitCode, smoked.stderr).toBe(0);
    expect(smoked.host.smoke!.cases.map((c) => c.name)).toEqual(expect.arrayContaining(['jibri account', 'jigasi account']));
    expect((await bed.ssh(name, `ls ${ACCOUNTS}`)).stdout).not.toContain('jitsi%2djwt%2dsmoke');
  });

  it('--guests: a guest waits alone, gets in once a token holder is there, waits elsewhere', async () => {
    const applied = await run(name, host, 'apply', '--guests', '--yes');
    expect(applied.exitCode, applied.stderr).toBe(0);
    expect(applied.host.access?.guests).toBe(true);
    expect(applied.host.access?.withoutToken.map((i) => i.entry)).toContain(`guest.${DOMAIN}`);
    expect(applied.host.files.map((f) => f.path)).toEqual([domainFile(DOMAIN), CONFIG_JS]);
    const cases = Object.fromEntries(applied.host.smoke!.cases.map((c) => [c.name, c]));
    expect(cases['guest waits']).toMatchObject({ expected: 'waits', verdict: 'pass' });
    expect(cases['guest after host']).toMatchObject({ expected: 'participant', verdict: 'pass' });
    expect(cases['guest in another room']).toMatchObject({ expected: 'waits', verdict: 'pass' });
    expect(cases['no token']).toMatchObject({ expected: 'refused', verdict: 'pass' });
    expect((await bed.ssh(name, `grep -n anonymousdomain ${CONFIG_JS}`)).stdout).toMatch(new RegExp(`^\\d+:\\s+anonymousdomain: 'guest\\.${DOMAIN.replace('.', '\\.')}',$`, 'm'));
  });

  it('changes and restarts nothing on a re-run with --guests', async () => {
    const pid = await prosodyPid(bed, name);
    const again = await run(name, host, 'apply', '--guests', '--yes');
    expect(again.exitCode, again.stderr).toBe(0);
    expect(again.host.status).toBe('unchanged');
    expect(again.host.files).toEqual([]);
    expect(await prosodyPid(bed, name)).toBe(pid);
  });

  it('puts config.js back too when the run fails', async () => {
    const before = await snapshot();
    // Prosody refuses to start on the new config only (without the waiting for a host), so the old one comes back up.
    await bed.ssh(name, `echo '! grep -q muc_wait_for_host ${domainFile(DOMAIN)}' > /etc/jitsi-testbed/fail-start-prosody`);
    try {
      const failed = await run(name, host, 'apply', '--no-guests', '--yes');
      expect(failed.exitCode).toBe(EXIT.rolledBack);
    } finally {
      await bed.ssh(name, 'rm -f /etc/jitsi-testbed/fail-start-prosody');
    }
    expect(await snapshot()).toBe(before);
  });

  it('--no-guests gives back both files byte for byte', async () => {
    const off = await run(name, host, 'apply', '--no-guests', '--yes');
    expect(off.exitCode, off.stderr).toBe(0);
    expect(off.host.access?.guests).toBe(false);
    expect(await snapshot()).toBe(tokenState);
    expect((await bed.ssh(name, `cat ${CONFIG_JS}`)).stdout).toBe(webBefore);
  });
  it("takes over a password-protected server: says what ends, keeps its guests waiting, turns Jicofo's login check off, proves it", async () => {
    await bed.reset([name]);
    const file = domainFile(DOMAIN);
    // The "secure domain" guide: password accounts on the domain, anonymous guests on guest.<domain>, Jicofo checking logins.
    await bed.ssh(name, [
      `sed -i 's/authentication = "jitsi-anonymous" -- do not delete me/authentication = "internal_hashed"/' ${file}`,
      `printf '\\nVirtualHost "guest.${DOMAIN}"\\n    authentication = "anonymous"\\n    c2s_require_encryption = false\\n' >> ${file}`,
      `sed -i "s|^        // anonymousdomain: 'guest.example.com',$|&\\n        anonymousdomain: 'guest.${DOMAIN}',|" ${CONFIG_JS}`,
      `sed -i 's/^jicofo {$/jicofo {\\n  authentication: {\\n    enabled: true\\n    type: XMPP\\n    login-url: ${DOMAIN}\\n  }/' /etc/jitsi/jicofo/jicofo.conf`,
    ].join(' && '));
    await restartProsody(bed, name);
    await bed.ssh(name, `prosodyctl register alice ${DOMAIN} alice-password-1 && prosodyctl register bob ${DOMAIN} bob-password-2`);
    const alice = { user: 'alice', password: 'alice-password-1' };
    expect((await attemptJoin({ url: url(), domain: DOMAIN, room: 'before', login: alice })).auth).toEqual({ ok: true });
    const webBefore = (await bed.ssh(name, `cat ${CONFIG_JS}`)).stdout;

    const plan = await jitsiJwt(['plan', `deploy@${host.address}`, ...sshFlags(bed), '--app-id', appId]);
    expect(plan.stdout).toMatch(/logs users in with passwords \(a "secure domain", 2 accounts\): with token authentication none of them can log in any more/);
    expect(plan.stdout).toMatch(/this secure domain's guests log in on guest\.meet\.test: they keep getting in/);
    expect(plan.stdout).toContain("Jicofo's own login check off");

    const applied = await run(name, host, 'apply', '--app-id', appId, '--yes');
    expect(applied.exitCode, applied.stderr).toBe(0);
    expect(applied.host.access?.guests).toBe(true);
    const cases = Object.fromEntries(applied.host.smoke!.cases.map((c) => [c.name, c]));
    expect(cases['password login']).toMatchObject({ expected: 'refused', verdict: 'pass' });
    expect(cases['guest waits']).toMatchObject({ verdict: 'pass' });
    expect(cases['guest after host']).toMatchObject({ verdict: 'pass' });
    expect(cases['valid token']).toMatchObject({ verdict: 'pass' });
    // An account that logged in with its password before cannot now; config.js already named the guest domain.
    expect((await attemptJoin({ url: url(), domain: DOMAIN, room: 'after', login: alice })).auth).toMatchObject({ ok: false, condition: 'no-plain-mechanism' });
    expect((await bed.ssh(name, `cat ${CONFIG_JS}`)).stdout).toBe(webBefore);
    expect((await bed.ssh(name, 'grep -A1 "authentication: {" /etc/jitsi/jicofo/jicofo.conf')).stdout).toContain('enabled: false');
  });
});
